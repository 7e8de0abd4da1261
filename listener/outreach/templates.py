"""Where templates come from: the built-in ones, and an optional folder of overrides.

The reply templates (`outreach/…`) and the desk's page templates (`web/…`) live in the
repository's top-level `templates/` folder. A built wheel carries a copy inside the package
(`listener/_templates`, copied by the build step in `setup.py`); an editable install reads the
checkout's folder. `outreach.templates_dir`, when set, names a folder whose files replace the
built-in file at the same relative path (`outreach/complaint.txt.j2`, `web/base.html`, a
language's `outreach/<lang>/…`): one search path, overrides first, for every name.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader

from listener.errors import SettingsError

_PACKAGE = Path(__file__).resolve().parents[1]
BUNDLED = _PACKAGE / "_templates"  # in an installed wheel
CHECKOUT = _PACKAGE.parent / "templates"  # in the repository (editable install)


def builtin_templates() -> Path:
    """The folder holding the built-in `outreach/` and `web/` templates."""
    for folder in (BUNDLED, CHECKOUT):
        if (folder / "outreach").is_dir() and (folder / "web").is_dir():
            return folder
    raise SettingsError(
        "the built-in templates are missing from this installation of listener "
        f"(looked in {BUNDLED} and {CHECKOUT}); reinstall the package"
    )


def checked_override(folder: Path | None) -> Path | None:
    """`folder` when it is a folder; a settings error when it is set but missing."""
    if folder is None:
        return None
    if not folder.is_dir():
        raise SettingsError(
            f"outreach.templates_dir: {str(folder)!r} is not a folder; create it with the "
            "templates you want to replace (`listener init --templates` copies the built-in "
            "ones), or remove the setting to use the built-in templates"
        )
    return folder


def search_path(override: Path | None, part: str = "") -> list[Path]:
    """Folders to look a template name up in, the override first; `part` is a subfolder
    (`"web"` for the desk's pages)."""
    folders = [f for f in (checked_override(override), builtin_templates()) if f is not None]
    return [f / part if part else f for f in folders]


def template_loader(override: Path | None, part: str = "") -> FileSystemLoader:
    """One loader for every template name: a file in the override folder wins."""
    return FileSystemLoader([str(f) for f in search_path(override, part)])
