"""`listener init`: a starter settings file (and, on request, the templates) in a folder.

A new user starts from an installed package alone: no clone of the repository needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from listener.cli.common import EXIT_USAGE, console, fail, user_errors
from listener.outreach.templates import builtin_templates

STARTER = """\
# listener settings. Every key is described in docs/settings.md; a key left out keeps its
# default. Environment variables override any key: LISTENER_<SECTION>__<KEY>, e.g.
# LISTENER_WEB__PORT=8080.

[database]
# A SQLite file next to this one; for several instances use PostgreSQL:
# url = "postgresql+psycopg://user@localhost:5432/listener"
url = "sqlite:///listener.db"

# One [[brands]] block per brand to listen for.
[[brands]]
name = "Example Co"
terms = ["Example Co", "@ExampleCo", "#ExampleCo"]   # what a mention must contain
exclude = []                                         # phrases that mean something else
display_name = "Example Co"                          # how replies sign
support_url = "https://example.com/help"

# Where mentions come from: one [[sources]] block each. A feed (RSS or Atom) from a news
# site, a blog or a Google Alert:
# [[sources]]
# name = "news"
# kind = "feed"
# url = "https://news.example.com/feed.xml"
# every = "10m"

[outreach]
# Reply drafts are queued for a person to approve; nothing is sent without approval.
max_per_author = 1
cap_period = "24h"
{templates_line}

[web]
# The review desk (`listener users add NAME --role admin` creates an account). Set
# LISTENER_WEB_SECRET_KEY in the environment to manage the session key yourself.
host = "127.0.0.1"
port = 8000
"""

TEMPLATES_ON = 'templates_dir = "templates"   # your copies replace the built-in templates'
TEMPLATES_OFF = (
    '# templates_dir = "templates"   # a folder whose files replace the built-in templates\n'
    "#                                 (`listener init --templates` copies them there)"
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write into (created if missing).")
    ] = Path("."),
    templates: Annotated[
        bool,
        typer.Option(
            "--templates", help="Also copy the built-in templates into DIRECTORY/templates."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that already exist.")
    ] = False,
) -> None:
    """Write a commented starter settings.toml (and, with --templates, the templates)."""
    with user_errors():
        settings_file = directory / "settings.toml"
        copies = directory / "templates"
        existing = [settings_file] if settings_file.exists() else []
        if templates:
            existing += [
                copies / f.relative_to(builtin_templates())
                for f in _template_files()
                if (copies / f.relative_to(builtin_templates())).exists()
            ]
        if existing and not force:
            names = ", ".join(str(p) for p in existing[:3])
            more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
            fail(f"{names}{more} already exist(s); use --force to overwrite", EXIT_USAGE)
        directory.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(
            STARTER.format(templates_line=TEMPLATES_ON if templates else TEMPLATES_OFF),
            encoding="utf-8",
        )
        console.print(f"wrote {settings_file}")
        if templates:
            for source in _template_files():
                target = copies / source.relative_to(builtin_templates())
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            console.print(f"copied the built-in templates to {copies}")
        console.print(
            "next: edit the brands and sources, add yourself to the review desk with "
            "`listener users add NAME --role admin`, then `listener run` (or `listener poll` "
            "to fetch once)"
        )


def _template_files() -> list[Path]:
    root = builtin_templates()
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
