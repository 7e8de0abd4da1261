"""`listener` command line: thin commands that parse arguments, call the app and print.

Each family of commands lives in its own module with a `register(app)` function.
"""

from __future__ import annotations

from typing import Any

import typer

from listener._process import quiet_resource_tracker, tune_garbage_collector
from listener.cli import (
    incidents,
    init,
    mentions,
    outreach,
    queue,
    service,
    sources,
    statements,
    web,
)


class ListenerApp(typer.Typer):
    """The command tree, with flags shown bare in `--help`: typer labels every option with
    its type, so each flag read `--json <bool>` although it takes no value."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        command = typer.main.get_command(self)
        bare_flags(command)
        return command(*args, **kwargs)


def bare_flags(command: Any) -> None:
    """Give every flag an empty label, here and in every subcommand (typer builds the tree on
    its own copy of click, so this goes by attributes rather than click's classes)."""
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    made = command.get_help_option  # --help is made per context, not kept in `params`

    def help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        bare_flags(sub)


app = ListenerApp(
    name="listener",
    help="Social listening and reputation response: gather, score, alert, reply with approval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

init.register(app)
service.register(app)
mentions.register(app)
queue.register(app)
sources.register(app)
outreach.register(app)
web.register(app)
incidents.register(app)
statements.register(app)


def main() -> None:
    tune_garbage_collector()
    quiet_resource_tracker()
    app()
