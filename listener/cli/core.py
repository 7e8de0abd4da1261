"""The foundation's commands: run, poll, import, score, mentions, queue."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import typer
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
from listener.app import Listener, check_templates, make_listener
from listener.cli.common import (
    ConfigOption,
    actor_name,
    console,
    fail,
    print_json,
    settings_from,
    setup_logging,
    user_errors,
)
from listener.domain import Mention
from listener.outreach.review import ReviewAction
from listener.pipeline import IngestReport
from listener.scoring.language import language_filter
from listener.settings import format_duration, parse_duration
from listener.sources.importing import BadLine, detect_format, open_text, read_mentions
from listener.store import DraftFilter, MentionFilter, single_instance, stored_as_dict

log = logging.getLogger("listener")
IMPORT_BATCH = 2000


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


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("poll")(poll)
    app.command("import")(import_file)
    app.command("score")(score)
    app.command("mentions")(mentions)
    app.add_typer(queue_app, name="queue")
    app.command("label")(label)
    app.command("labels")(labels)


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
    """Run the service: poll sources, score, store, queue drafts, serve the review desk and
    /healthz, /readyz, /metrics."""
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


def _progress(total: int | None, *, unit_bytes: bool) -> Progress:
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
    columns += [TransferSpeedColumn()] if unit_bytes else [MofNCompleteColumn()]
    columns += [TimeRemainingColumn()]
    return Progress(
        *columns,
        console=console,
        transient=False,
        disable=not console.is_terminal and total is None,
    )


def import_file(
    file: Annotated[Path, typer.Argument(help="JSONL or CSV of mentions ('-' for stdin).")],
    config: ConfigOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by extension).")
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Process in published_at order with the clock set to each mention's time.",
        ),
    ] = False,
) -> None:
    """Ingest mentions through the same pipeline as polling (match, score, store, draft)."""
    setup_logging()
    if str(file) != "-" and not file.is_file():
        fail(f"{file} does not exist or is not a file")
    with user_errors():
        if replay:
            from listener.incidents.replay import replay_file

            replay_file(file, config=config, fmt=fmt)
            return
        listener = open_listener(config, scoring=True, writes=True)
        try:
            report, bad = _import(listener, file, fmt)
        finally:
            listener.close()
    console.print(
        f"imported {report.received:,} line(s): {report.matched:,} about a brand, "
        f"{report.new:,} new, {report.duplicates:,} already stored, {report.drafts:,} draft(s) "
        f"queued, {bad:,} bad line(s) skipped."
    )
    for problem in report.problems[:20]:
        console.print(f"[yellow]warning:[/] {problem}")


def _import(listener: Listener, file: Path, fmt: str | None) -> tuple[IngestReport, int]:
    total = IngestReport()
    bad = 0
    fmt = fmt or ("jsonl" if str(file) == "-" else detect_format(file))
    size = file.stat().st_size if str(file) != "-" else None
    with open_text(file) as handle, _progress(size, unit_bytes=True) as progress:
        task = progress.add_task(f"importing {file.name}", total=size)

        def batches() -> Iterator[list[Mention]]:
            nonlocal bad
            batch: list[Mention] = []
            for item in read_mentions(handle, fmt, fetched_at=listener.clock.now()):
                if isinstance(item, BadLine):
                    bad += 1
                    if bad <= 50:
                        console.print(f"[yellow]skipped[/] {item}")
                    elif bad == 51:
                        console.print(
                            "[yellow]more bad lines; only the count is reported from now[/]"
                        )
                    continue
                batch.append(item.mention)
                if len(batch) >= IMPORT_BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        # The next batch is read and scored while this one is stored.
        if listener.pipeline.workers is not None:
            listener.pipeline.workers.warm_up()
        for report in listener.pipeline.ingest_many(batches(), actor="import"):
            total.add(report)
            progress.update(task, completed=_position(handle))
        progress.update(task, completed=size)
    return total, bad


def _position(handle: IO[str]) -> int | None:
    try:
        return int(handle.buffer.tell())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def score(
    text: Annotated[str | None, typer.Argument(help="A text to score.")] = None,
    jsonl: Annotated[
        Path | None, typer.Option("--jsonl", help="Score each JSON line's 'text' ('-' for stdin).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print JSON per text: dissatisfaction, dissatisfied, incident_risk, category, signals."""
    from listener.scoring import make_scorer
    from listener.settings import ScoringSettings

    with user_errors():
        scoring = ScoringSettings()
        if config is not None or Path("settings.toml").is_file():
            try:
                scoring = settings_from(config).scoring
            except Exception as exc:  # scoring a text must not need a valid service config
                console.print(f"[yellow]warning:[/] using default scoring settings ({exc})")
        scorer = make_scorer(scoring)
        if text is None and jsonl is None:
            fail("give a TEXT or --jsonl FILE", 2)
        if text is not None:
            result = scorer.score_batch([Mention(source="cli", external_id="1", text=text)])[0]
            sys.stdout.write(
                json.dumps({"text": text, **result.as_dict()}, ensure_ascii=False) + "\n"
            )
        if jsonl is not None:
            _score_jsonl(scorer, jsonl)


def _score_jsonl(scorer: Any, path: Path) -> None:
    if str(path) != "-" and not path.is_file():
        fail(f"{path} does not exist or is not a file")
    size = path.stat().st_size if str(path) != "-" else None
    out = sys.stdout
    bad = 0
    with open_text(path) as handle, _progress(size, unit_bytes=True) as progress:
        task = progress.add_task(f"scoring {path.name}", total=size)
        pending: list[tuple[dict[str, Any] | None, str]] = []
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("expected a JSON object")
                value = record.get("text")
                if not isinstance(value, str):
                    raise ValueError("no string field 'text'")
                pending.append((record, value))
            except (json.JSONDecodeError, ValueError) as exc:
                bad += 1
                console.print(f"[yellow]line {number}:[/] {exc}; written as an error line")
                pending.append(({"line": number, "error": str(exc)}, ""))
            if len(pending) >= 500:
                _flush_scores(scorer, pending, out)
                progress.update(task, completed=_position(handle))
        _flush_scores(scorer, pending, out)
        progress.update(task, completed=size)
    if bad:
        console.print(
            f"{bad} line(s) could not be scored; they appear in order with an 'error' field"
        )


def _flush_scores(
    scorer: Any, pending: list[tuple[dict[str, Any] | None, str]], out: IO[str]
) -> None:
    if not pending:
        return
    wanted = [
        (i, text)
        for i, (record, text) in enumerate(pending)
        if record is not None and "error" not in record
    ]
    scores = scorer.score_batch(
        [Mention(source="cli", external_id=str(i), text=t) for i, t in wanted]
    )
    by_index = {i: s for (i, _), s in zip(wanted, scores, strict=True)}
    lines = []
    for i, (record, _) in enumerate(pending):
        assert record is not None
        if i in by_index:
            lines.append(json.dumps({**record, **by_index[i].as_dict()}, ensure_ascii=False))
        else:
            lines.append(json.dumps(record, ensure_ascii=False))
    out.write("\n".join(lines) + "\n")
    out.flush()
    pending.clear()


def mentions(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    brand: Annotated[str, typer.Option(help="Only this brand.")] = "",
    source: Annotated[str, typer.Option(help="Only this source.")] = "",
    category: Annotated[str, typer.Option(help="Only this category.")] = "",
    dissatisfied: Annotated[
        bool | None,
        typer.Option(
            "--dissatisfied/--satisfied", help="Only (dis)satisfied mentions.", show_default=False
        ),
    ] = None,
    search: Annotated[str, typer.Option(help="Text contains this.")] = "",
    lang: Annotated[
        str,
        typer.Option(help='Only this language (a code such as "zh" or "es"; "-" for unknown).'),
    ] = "",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List stored mentions, newest first, with their scores."""
    with user_errors():
        listener = open_listener(config)
        try:
            f = MentionFilter(
                brand=brand,
                source=source,
                category=category,
                dissatisfied=dissatisfied,
                search=search,
                lang=language_filter(lang),
            )
            found = listener.store.mentions(f, limit=limit, offset=offset)
        finally:
            listener.close()
    if as_json:
        print_json([stored_as_dict(s) for s in found])
        return
    for s in found:
        flag = "[red]unhappy[/]" if s.score.dissatisfied else "ok"
        when = s.mention.published_at.strftime("%Y-%m-%d %H:%M") if s.mention.published_at else ""
        console.print(
            f"#{s.id} {when} {s.brand} {s.mention.source} {s.mention.lang or '-'} {flag} "
            f"{s.score.category}: "
            f"{(s.mention.title or s.mention.text)[:100]!r}",
            soft_wrap=True,
        )


queue_app = typer.Typer(
    help="The approval queue: list, approve, reject, edit drafts.", no_args_is_help=False
)


@queue_app.callback(invoke_without_command=True)
def queue(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    status: Annotated[
        str,
        typer.Option(help="pending, approved, rejected, snoozed, sent, failed, cancelled or all."),
    ] = "pending",
    brand: Annotated[str, typer.Option(help="Only this brand.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List drafts, most urgent first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    with user_errors():
        listener = open_listener(config)
        try:
            drafts = listener.store.drafts(
                DraftFilter(status=status, brand=brand), limit=limit, offset=offset
            )
        finally:
            listener.close()
    if as_json:
        print_json([d.as_dict() for d in drafts])
        return
    if not drafts:
        console.print(f"no {status} drafts.")
    for d in drafts:
        console.print(
            f"[bold]#{d.id}[/] {d.status} {d.brand} via {d.channel} "
            f"(mention {d.mention_id}, priority {d.priority:.2f})\n  {d.text}",
            soft_wrap=True,
        )


def _review(
    ctx: typer.Context,
    config: Path | None,
    draft_id: int,
    action: ReviewAction,
    actor: str | None,
    **kwargs: Any,
) -> None:
    with user_errors():
        listener = open_listener(config or ctx.obj, writes=True)
        try:
            draft = listener.store.review(
                draft_id,
                action,
                actor=actor_name(actor),
                at=listener.clock.now(),
                four_eyes=listener.settings.outreach.four_eyes,
                reply_names=listener.settings.reply_names_by_brand(),
                **kwargs,
            )
        finally:
            listener.close()
    print_json(draft.as_dict())


ActorOption = Annotated[str | None, typer.Option("--as", help="Who is acting (for the audit log).")]


@queue_app.command("approve")
def approve(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Approve a draft for sending."""
    _review(ctx, config, draft_id, ReviewAction.APPROVE, actor)


@queue_app.command("reject")
def reject(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Reject a draft, with a reason."""
    _review(ctx, config, draft_id, ReviewAction.REJECT, actor, reason=reason)


@queue_app.command("edit")
def edit(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    text: Annotated[str, typer.Option("--text", help="The new reply text.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Replace a draft's text (it then needs approval again)."""
    _review(ctx, config, draft_id, ReviewAction.EDIT, actor, text=text)


@queue_app.command("snooze")
def snooze(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    until: Annotated[str, typer.Option("--for", help="How long, e.g. 2h or 1d.")] = "4h",
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Put a draft aside for a while."""
    try:
        delta = parse_duration(until)
    except ValueError as exc:
        fail(f"--for {until!r}: {exc}", 2)
    _review(
        ctx, config, draft_id, ReviewAction.SNOOZE, actor, snooze_until=datetime.now(UTC) + delta
    )


@queue_app.command("show")
def show(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
) -> None:
    """A draft with its mention, scores and history."""
    with user_errors():
        listener = open_listener(config or ctx.obj)
        try:
            draft = listener.store.draft(draft_id)
            mention = listener.store.mentions_by_ids([draft.mention_id]).get(draft.mention_id)
            history = listener.store.draft_history(draft_id)
        finally:
            listener.close()
    print_json(
        {
            **draft.as_dict(),
            "mention": stored_as_dict(mention) if mention else None,
            "history": history,
        }
    )


def label(
    mention_id: Annotated[int, typer.Argument(metavar="MENTION_ID")],
    config: ConfigOption = None,
    category: Annotated[str | None, typer.Option(help="The right category.")] = None,
    dissatisfied: Annotated[
        bool | None,
        typer.Option(
            "--dissatisfied/--not-unhappy", help="Is the author unhappy?", show_default=False
        ),
    ] = None,
    not_about_us: Annotated[
        bool, typer.Option("--not-about-us", help="Wrong brand match.")
    ] = False,
    actor: Annotated[str | None, typer.Option("--as", help="Who is labelling.")] = None,
) -> None:
    """Correct a mention's score; the label is kept for retraining."""
    chosen = [
        ("category", category) if category else None,
        ("dissatisfied", str(dissatisfied).lower()) if dissatisfied is not None else None,
        ("not_about_us", "true") if not_about_us else None,
    ]
    given = [c for c in chosen if c is not None]
    if len(given) != 1:
        fail("give exactly one of --category, --dissatisfied/--not-unhappy, --not-about-us", 2)
    kind, value = given[0]
    with user_errors():
        listener = open_listener(config, writes=True)
        try:
            listener.store.add_label(
                mention_id, kind, value, actor=actor_name(actor), at=listener.clock.now()
            )
            [stored] = listener.store.mentions_by_ids([mention_id]).values()
        finally:
            listener.close()
    print_json(stored_as_dict(stored))


def labels(
    config: ConfigOption = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write training rows (JSONL) for listener.scoring.train."),
    ] = None,
) -> None:
    """List people's corrections, or export them as training data."""
    with user_errors():
        listener = open_listener(config)
        try:
            rows = listener.store.training_examples() if export else listener.store.labels()
        finally:
            listener.close()
    if export is None:
        print_json(rows)
        return
    with export.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    console.print(f"wrote {len(rows)} labelled example(s) to {export}")
