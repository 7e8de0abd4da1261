"""`listener run` and `listener poll`: the service, and one round of polling by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

import typer

from listener.app import Listener, check_templates
from listener.cli.common import (
    ConfigOption,
    console,
    fail,
    open_listener,
    print_json,
    settings_from,
    setup_logging,
    user_errors,
)
from listener.settings import format_duration
from listener.store import single_instance


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("poll")(poll)


log = logging.getLogger("listener")


LogFormatOption = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="human (readable lines) or json (one object per line); default: [logging] format.",
        show_default=False,
    ),
]


def run(
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    log_format: LogFormatOption = None,
) -> None:
    """Run the service: poll, score, store, draft, alert; serve the desk and /healthz, /metrics."""
    from listener.ops.logging import reopen_log_files
    from listener.service import Service

    if log_format not in (None, "human", "json"):
        fail(f"--log-format {log_format!r}: expected 'human' or 'json'", 2)
    with user_errors():
        settings = settings_from(config)
    logs = settings.logging
    fmt = log_format or logs.format
    log_file = str(settings.resolve_path(logs.file)) if logs.file else ""
    setup_logging(verbose, fmt=fmt, level=logs.level, file=log_file)
    say = _sayer(fmt == "json" or bool(logs.file))
    # SQLite: one instance per database file, refused with the holder's PID (instance_lock).
    with user_errors():
        check_templates(settings)  # before the lock file or a database is created
    with user_errors(), single_instance(settings.database_url):
        listener = open_listener(config, scoring=True, writes=True)
        try:
            _announce(listener, say)
            service = Service(listener)
            service.on_hangup = reopen_log_files
            service.install_signal_handlers()
            servers = _start_web(listener, say)
            try:
                service.run_forever()
            finally:
                for server in servers:
                    server.stop()
        finally:
            listener.close()
    say("listener stopped cleanly.")


def _sayer(to_log: bool) -> Callable[[str], None]:
    """Where the start-up lines go: the console, or the log (as plain text) when the log is
    JSON or a file, so a collector sees one format only."""
    if not to_log:
        return lambda line: console.print(line, soft_wrap=True)
    from rich.errors import MarkupError
    from rich.text import Text

    def to_log_line(line: str) -> None:
        try:
            plain = Text.from_markup(line).plain
        except MarkupError:
            plain = line
        log.info("%s", plain)

    return to_log_line


def _start_web(listener: Listener, say: Callable[[str], None]) -> list[Any]:
    """The review desk and the ops endpoints in threads beside the scheduler; the same
    signal stops them all. The ops endpoints ride on the desk's port unless `[ops] port`
    gives them their own; with the desk off they take its host and port alone."""
    from listener.web.routes_ops import create_ops_app
    from listener.web.server import WebServer

    settings = listener.settings
    servers: list[Any] = []
    try:
        if settings.web.enabled:
            desk = WebServer(listener)
            desk.start()
            servers.append(desk)
            say(f"listener: review desk on [bold]{desk.url}[/]")
        if settings.ops.enabled and (settings.ops.port or not settings.web.enabled):
            own = bool(settings.ops.port)
            ops = WebServer(
                listener,
                host=settings.ops.host if own else settings.web.host,
                port=settings.ops.port if own else settings.web.port,
                app=create_ops_app(listener),
                setting="ops" if own else "web",
            )
            ops.start()
            servers.append(ops)
            say(f"listener: health and metrics on [bold]{ops.url}[/] (/healthz /readyz /metrics)")
        elif settings.ops.enabled and servers:
            say("listener: health and metrics on the desk's port (/healthz /readyz /metrics)")
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def _announce(listener: Listener, say: Callable[[str], None]) -> None:
    settings = listener.settings
    say(f"listener: writing to [bold]{listener.store.url}[/]")
    say(f"listener: {len(settings.brands)} brand(s): " + ", ".join(b.name for b in settings.brands))
    for config in settings.sources:
        state = (
            "disabled: " + listener.disabled[config.name]
            if config.name in listener.disabled
            else f"every {format_duration(config.every)}"
        )
        say(f"  source {config.name} ({config.kind}) {state}")
    if not listener.sources:
        say("[yellow]no enabled sources: nothing will be polled[/]")


def poll(
    config: ConfigOption = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Poll only this source.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Poll every source (or one) once, print a summary and exit (1 if any source failed)."""
    setup_logging()
    with user_errors():
        listener = open_listener(config, scoring=True, writes=True)
        try:
            reports = listener.poll(source)
        finally:
            listener.close()
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        for report in reports:
            style = "red" if report.error else "yellow" if report.skipped else "green"
            console.print(f"[{style}]{report.summary()}[/]", soft_wrap=True)
        if not reports:
            console.print(
                "no sources configured: add a [[sources]] block to the settings "
                "(settings.toml has a commented feed example after `listener init`)"
            )
        total_new = sum(r.new for r in reports)
        total_drafts = sum(r.drafts for r in reports)
        console.print(f"{total_new} new mention(s), {total_drafts} draft(s) queued.")
    if any(r.error for r in reports):
        raise typer.Exit(1)
