"""Mentions: `listener import`, `score`, `mentions`, and the labels that retrain the
scorer."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from listener.app import Listener, make_listener
from listener.cli.common import (
    ConfigOption,
    actor_name,
    console,
    fail,
    open_listener,
    print_json,
    progress_bar,
    settings_from,
    setup_logging,
    user_errors,
)
from listener.clock import ReplayClock
from listener.domain import Mention
from listener.pipeline import IngestReport
from listener.scoring.language import language_filter
from listener.sources.importing import BadLine, detect_format, open_text, read_mentions
from listener.store import MentionFilter, stored_as_dict


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
    app.command("score")(score)
    app.command("mentions")(mentions)
    app.command("label")(label)
    app.command("labels")(labels)


IMPORT_BATCH = 2000


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
            _replay_file(file, config=config, fmt=fmt)
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
    with open_text(file) as handle, progress_bar(size, unit_bytes=True) as progress:
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
    with open_text(path) as handle, progress_bar(size, unit_bytes=True) as progress:
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


def _replay_file(file: Path, *, config: Path | None, fmt: str | None) -> None:
    """`listener import FILE --replay`: a replay with a progress bar and a closing summary."""
    from listener.incidents.replay import load_sorted, replay

    settings = settings_from(config)
    data = load_sorted(file, fmt)
    for bad in data.bad[:20]:
        console.print(f"[yellow]skipped[/] {bad}")
    if not data.mentions:
        console.print("nothing to replay: the file holds no usable mention.")
        return
    clock = ReplayClock(data.mentions[0].published_at or datetime.now(UTC))
    listener = make_listener(settings, clock=clock, sources=[])
    try:
        with progress_bar(len(data.mentions), unit_bytes=False) as progress:
            task = progress.add_task(f"replaying {file.name}", total=len(data.mentions))
            report = replay(
                listener,
                clock,
                data.mentions,
                on_batch=lambda n: progress.advance(task, n),
            )
    finally:
        listener.close()
    console.print(
        f"replayed {report.mentions:,} mention(s) from {report.started_at:%Y-%m-%d %H:%M} to "
        f"{report.ended_at:%Y-%m-%d %H:%M} UTC (simulated): {report.new:,} new, "
        f"{len(data.bad):,} bad line(s) skipped; {report.alerts_sent} alert(s) delivered, "
        f"{report.alerts_waiting} still waiting (see `listener alerts`)."
    )
    for problem in report.problems[:20]:
        console.print(f"[yellow]warning:[/] {problem}")
