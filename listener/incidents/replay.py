"""Replays and backtests: a file of mentions processed as if it were happening now.

`replay` (behind `listener import FILE --replay`) takes the file sorted by `published_at`, sets a
`ReplayClock` to each small batch's time, ingests through the normal pipeline and runs the
alert dispatcher as it goes, so incidents open and alerts go out (to the configured channels,
stamped with simulated time) when they would have live. `backtest` does the same on a fresh,
temporary SQLite store without sending anything and reports, for each incident, how soon it
was detected and how many of its mentions came before that; and for calm periods, how many
alerts would have fired.

A line may carry a ground-truth label (`"incident": "<name>"`, any value but empty): the
backtest then measures delay from the first labelled mention, and counts alerts for incidents
made of no labelled mention as false alarms.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import Mention
from listener.settings import DatabaseSettings, Settings
from listener.sources.importing import BadLine, detect_format, open_text, read_mentions

BATCH_SIZE = 50
BATCH_SPAN = timedelta(minutes=1)
LABEL_FIELD = "incident"


@dataclass(frozen=True, slots=True)
class ReplayInput:
    mentions: list[Mention]
    labels: dict[tuple[str, str], str]
    bad: list[BadLine]


def load_sorted(file: Path, fmt: str | None = None) -> ReplayInput:
    """Read the whole file and order it by publication time (undated lines go first)."""
    fmt = fmt or ("jsonl" if str(file) == "-" else detect_format(file))
    mentions: list[Mention] = []
    labels: dict[tuple[str, str], str] = {}
    bad: list[BadLine] = []
    placeholder = datetime(1970, 1, 1, tzinfo=UTC)
    with open_text(file) as handle:
        for item in read_mentions(handle, fmt, fetched_at=placeholder):
            if isinstance(item, BadLine):
                bad.append(item)
                continue
            mention = item.mention
            if mention.published_at is not None:
                # Fetched when published: the replay pretends we heard it at once.
                mention = replace(mention, fetched_at=mention.published_at)
            mentions.append(mention)
            label = item.extra.get(LABEL_FIELD)
            if label not in (None, "", False):
                labels[(mention.source, mention.external_id)] = str(label)
    mentions.sort(key=lambda m: m.published_at or placeholder)
    return ReplayInput(mentions, labels, bad)


def batches(
    mentions: Sequence[Mention], size: int = BATCH_SIZE, span: timedelta = BATCH_SPAN
) -> Iterator[list[Mention]]:
    """Time-ordered batches of at most `size` mentions spanning at most `span`."""
    batch: list[Mention] = []
    start: datetime | None = None
    for mention in mentions:
        at = mention.published_at
        if batch and (len(batch) >= size or (at and start and at - start >= span)):
            yield batch
            batch, start = [], None
        if start is None:
            start = at
        batch.append(mention)
    if batch:
        yield batch


@dataclass
class ReplayReport:
    mentions: int = 0
    new: int = 0
    bad: int = 0
    alerts_sent: int = 0
    alerts_waiting: int = 0
    problems: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None


def replay(
    listener: Listener,
    clock: ReplayClock,
    mentions: Sequence[Mention],
    *,
    dispatch: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Feed mentions through `listener` in time order with the clock following them."""
    report = ReplayReport(mentions=len(mentions))
    jobs = {job.id: job for job in listener.jobs}
    resolve = jobs.get("incidents.resolve")
    next_resolve: datetime | None = None
    for batch in batches(mentions):
        moment = max((m.published_at for m in batch if m.published_at), default=clock.now())
        clock.advance_to(moment)
        now = clock.now()
        report.started_at = report.started_at or now
        result = listener.pipeline.ingest(batch, actor="replay", now=now)
        report.new += result.new
        report.problems.extend(result.problems)
        if resolve is not None and (next_resolve is None or now >= next_resolve):
            resolve.run()
            next_resolve = now + resolve.every
        if dispatch:
            _dispatch(listener, report)
        if on_batch is not None:
            on_batch(len(batch))
    if dispatch:
        _dispatch(listener, report)
    report.ended_at = clock.now()
    if dispatch:
        report.alerts_waiting = _waiting(listener)
    return report


def _dispatch(listener: Listener, report: ReplayReport) -> None:
    from listener.alerts.dispatcher import DispatchReport

    for job in listener.jobs:
        if job.id == "alerts":
            outcome = job.run()
            if isinstance(outcome, DispatchReport):
                report.alerts_sent += outcome.sent


def _waiting(listener: Listener) -> int:
    return listener.store.alerts.waiting()


# backtest -------------------------------------------------------------------------------------


def backtest(settings: Settings, file: Path, fmt: str | None = None) -> dict[str, Any]:
    """Replay into a temporary SQLite store without sending; measure detection."""
    data = load_sorted(file, fmt)
    with tempfile.TemporaryDirectory(prefix="listener-backtest-") as tmp:
        isolated = settings.model_copy(
            update={"database": DatabaseSettings(url=f"sqlite:///{Path(tmp) / 'backtest.db'}")}
        )
        start = (data.mentions[0].published_at if data.mentions else None) or datetime.now(UTC)
        clock = ReplayClock(start)
        listener = make_listener(isolated, clock=clock, sources=[])
        try:
            replay(listener, clock, data.mentions, dispatch=False)
            return _measure(listener, data, isolated)
        finally:
            listener.close()


def _measure(listener: Listener, data: ReplayInput, settings: Settings) -> dict[str, Any]:
    bucket = settings.incidents.bucket
    traces = listener.store.incidents.traces()
    alerts = listener.store.alerts.all()
    rows: list[dict[str, Any]] = []
    detected_labels: set[str] = set()
    labelled_incidents: set[int] = set()
    for trace in traces:
        incident = trace.incident
        labels = sorted({data.labels[k] for k in trace.mention_keys if k in data.labels})
        if labels:
            labelled_incidents.add(incident.id)
            detected_labels.update(labels)
        times = trace.mention_times
        peak = _peak(times, bucket)
        truth_start = _first_labelled(data, labels)
        rows.append(
            {
                "id": incident.id,
                "brand": incident.brand,
                "type": incident.type,
                "severity": incident.severity,
                "labels": labels,
                "first_mention_at": incident.first_mention_at.isoformat(),
                "opened_at": incident.opened_at.isoformat(),
                "detection_delay_seconds": (
                    incident.opened_at - (truth_start or incident.first_mention_at)
                ).total_seconds(),
                "lead_time_before_peak_seconds": (peak - incident.opened_at).total_seconds()
                if peak
                else None,
                "mentions_before_detection": trace.mentions_before_opening,
                "mention_count": incident.mention_count,
                "trigger": incident.trigger,
                "title": incident.title,
            }
        )
    has_labels = bool(data.labels)
    false_alarms = [a for a in alerts if has_labels and a.incident_id not in labelled_incidents]
    missed = sorted(set(data.labels.values()) - detected_labels)
    per_brand: dict[str, int] = defaultdict(int)
    for a in false_alarms if has_labels else alerts:
        per_brand[a.brand] += 1
    span = _span(data.mentions)
    return {
        "mentions": len(data.mentions),
        "period": span,
        "incidents": rows,
        "labelled": has_labels,
        "missed_labels": missed,
        "calm": {
            "alerts_would_have_fired": len(false_alarms) if has_labels else None,
            "by_brand": dict(per_brand),
            "note": "alerts for incidents with no labelled mention"
            if has_labels
            else "no ground-truth labels in the file: by_brand counts every alert",
        },
        "alerts_total": len(alerts),
        **story_figures(
            rows,
            {label: _first_labelled(data, [label]) for label in sorted(set(data.labels.values()))},
            [(a.brand, a.severity, a.kind) for a in alerts],
            settings,
            span,
        ),
    }


def story_figures(
    rows: Sequence[dict[str, Any]],
    stories: dict[str, datetime | None],
    alerts: Sequence[tuple[str, str, str]],
    settings: Settings,
    span: dict[str, str | None],
) -> dict[str, Any]:
    """What a responder asks of a replay: each labelled story (how many incidents, how soon,
    what type), false alarms per brand per week, and alerts per channel and kind."""
    from listener.alerts.dispatcher import routes_to

    per_story: dict[str, Any] = {}
    for label, first_post in stories.items():
        found = [r for r in rows if label in r["labels"]]
        opened = min((datetime.fromisoformat(r["opened_at"]) for r in found), default=None)
        per_story[label] = {
            "first_post_at": first_post.isoformat() if first_post else None,
            "incidents": [r["id"] for r in found],
            "types": sorted({r["type"] for r in found}),
            "detected_at": opened.isoformat() if opened else None,
            "delay_seconds": (opened - first_post).total_seconds()
            if opened and first_post
            else None,
        }
    labelled = bool(stories)
    false_rows = [r for r in rows if not r["labels"]] if labelled else list(rows)
    weeks = 1.0
    if span["start"] and span["end"]:
        days = (datetime.fromisoformat(span["end"]) - datetime.fromisoformat(span["start"])).days
        weeks = max(1.0, (days + 1) / 7)
    per_brand = {b.name: 0 for b in settings.brands}
    for r in false_rows:
        per_brand[r["brand"]] = per_brand.get(r["brand"], 0) + 1
    channels: dict[str, dict[str, int]] = {c.name: {} for c in settings.alerts}
    for brand, severity, kind in alerts:
        for channel in settings.alerts:
            if routes_to(channel, brand, severity):
                counts = channels[channel.name]
                counts[kind] = counts.get(kind, 0) + 1
    return {
        "stories": per_story,
        "false_alarms": {
            "incidents": len(false_rows),
            "weeks": round(weeks, 2),
            "per_brand_per_week": {b: round(n / weeks, 3) for b, n in sorted(per_brand.items())},
            "note": "incidents with no labelled mention"
            if labelled
            else "no labels in the file: every incident counts",
        },
        "alerts_by_channel": channels,
    }


def _first_labelled(data: ReplayInput, labels: Sequence[str]) -> datetime | None:
    if not labels:
        return None
    wanted = set(labels)
    times = [
        m.published_at
        for m in data.mentions
        if m.published_at and data.labels.get((m.source, m.external_id)) in wanted
    ]
    return min(times) if times else None


def _peak(times: Sequence[datetime], bucket: timedelta) -> datetime | None:
    if not times:
        return None
    seconds = bucket.total_seconds()
    counts: dict[int, int] = defaultdict(int)
    for t in times:
        counts[int(t.timestamp() // seconds)] += 1
    best = max(counts, key=lambda b: (counts[b], -b))
    return datetime.fromtimestamp(best * seconds, tz=UTC)


def _span(mentions: Sequence[Mention]) -> dict[str, str | None]:
    dated = [m.published_at for m in mentions if m.published_at]
    return {
        "start": min(dated).isoformat() if dated else None,
        "end": max(dated).isoformat() if dated else None,
    }
