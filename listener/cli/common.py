"""What every command shares: settings from one place, one-line errors, JSON on stdout.

Commands write machine-readable output to stdout and everything meant for a person (progress,
summaries, errors) to stderr, so `listener queue --json | jq` always works.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from listener._process import settle_heap
from listener.app import Listener, make_listener
from listener.errors import (
    InvalidTransition,
    ListenerError,
    NotAllowed,
    NotFound,
    SettingsError,
)
from listener.settings import Settings, load_settings

console = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Settings file (default: $LISTENER_CONFIG or ./settings.toml).",
        show_default=False,
    ),
]
ActorOption = Annotated[str | None, typer.Option("--as", help="Who is acting (for the audit log).")]

EXIT_ERROR = 1
EXIT_USAGE = 2


def setup_logging(
    verbose: bool = False, *, fmt: str = "human", level: str = "info", file: str = ""
) -> None:
    """Readable lines on stderr (the default) or one JSON object per line (`fmt="json"`);
    to `file` instead of stderr when given (reopened on SIGHUP, see listener.ops.logging)."""
    from listener.ops.logging import JsonFormatter, RedactingFilter, ReopenableFileHandler

    handler: logging.Handler
    if file:
        handler = ReopenableFileHandler(file)
        handler.setFormatter(
            JsonFormatter()
            if fmt == "json"
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    elif fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="[%X]"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO),
        handlers=[handler],
        force=True,
    )
    for noisy in ("apscheduler", "httpx", "httpcore", "urllib3", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our errors into one clear line and an exit code; never a traceback."""
    try:
        yield
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)
    except (NotFound, InvalidTransition, NotAllowed) as exc:
        fail(str(exc), EXIT_ERROR)
    except ListenerError as exc:
        fail(str(exc), EXIT_ERROR)


def settings_from(config: Path | None) -> Settings:
    return load_settings(config if config is not None else None)


def actor_name(explicit: str | None) -> str:
    return explicit or f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'operator'}"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def open_listener(
    config: Path | None, *, scoring: bool = False, writes: bool = False, **kwargs: Any
) -> Listener:
    """The listener for one command; its scorer is built at once only for commands that
    score (`scoring`), so reading and reviewing the queue starts quickly.

    A command that `writes` first settles what an interrupted run left unsettled (opt-outs,
    cases, incidents of mentions stored just before a crash), so it never acts on a store
    whose after-store steps are behind.
    """
    settings = settings_from(config)
    listener = make_listener(settings, defer_scorer=not scoring, **kwargs)
    if writes:
        try:
            settle_left_over(listener)
        except BaseException:
            listener.close()
            raise
    settle_heap()
    return listener


def settle_left_over(listener: Listener) -> int:
    """Run the after-store steps of every batch still unsettled; says so when it did any.

    The steps are keyed by mention id, so a batch another process is settling at this moment
    is only settled twice, never counted twice.
    """
    settled = listener.pipeline.settle_pending(grace=timedelta(0))
    if settled:
        console.print(
            f"settled {settled:,} mention(s) an interrupted run had stored without finishing "
            "(opt-outs, cases, incidents)"
        )
    return settled


def progress_bar(total: int | None, *, unit_bytes: bool) -> Progress:
    """A progress bar for long work (imports, scoring files, replays): bytes per second when
    reading a file, N of M otherwise; drawn only on a terminal or when the total is known."""
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
    columns += [TransferSpeedColumn()] if unit_bytes else [MofNCompleteColumn()]
    columns += [TimeRemainingColumn()]
    return Progress(
        *columns,
        console=console,
        transient=False,
        disable=not console.is_terminal and total is None,
    )
