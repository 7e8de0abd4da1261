"""`listener` command line: thin commands that parse arguments, call the app and print.

Each family of commands lives in its own module with a `register(app)` function.
"""

from __future__ import annotations

import typer

from listener.child_process import quiet_resource_tracker
from listener.cli import core, incidents, outreach, sources, web
from listener.runtime import tune_garbage_collector

app = typer.Typer(
    name="listener",
    help="Social listening and reputation response: gather, score, alert, reply with approval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

core.register(app)
sources.register(app)
outreach.register(app)
web.register(app)
incidents.register(app)


def main() -> None:
    tune_garbage_collector()
    quiet_resource_tracker()
    app()
