"""Prometheus metrics of one Listener, on a registry of its own (never the global default).

Counters and histograms are moved where things happen (a poll ends, a batch is scored or
stored, a delivery is tried) through the `Metrics` object `make_listener` hands to those
parts. Gauges that describe the database (queue depth, active incidents, outbox age, source
state) are read when `/metrics` is scraped, by `StateCollector`, from one cached store call.
Label values are bounded: source, channel and job names come from settings, statuses and
outcomes from fixed lists; no mention text, author or URL ever becomes a label.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from listener.clock import Clock
from listener.incidents.model import Severity
from listener.sources.health import Health, HealthState
from listener.store import ACTIVE_INCIDENTS, QUEUE_STATUSES, QueueSnapshot

log = logging.getLogger("listener.ops")

POLL_OUTCOMES = ("ok", "not_modified", "failed", "rate_limited", "skipped")
DELIVERY_OUTCOMES = ("sent", "retry", "failed", "unknown")
# Seconds: scoring a batch and storing a batch take from milliseconds to tens of seconds.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SEVERITIES = tuple(s.value for s in Severity)


def listener_version() -> str:
    try:
        return version("listener")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """The instruments; one per Listener, each on its own `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "listener_polls",
            "Polls of a source, by outcome (ok, not_modified, failed, rate_limited, skipped).",
            ["source", "outcome"],
            registry=r,
        )
        self.mentions = Counter(
            "listener_mentions",
            "Mentions from polls: fetched from the source, stored as new, or duplicate "
            "(about a brand but already stored).",
            ["source", "result"],
            registry=r,
        )
        self.scoring = Histogram(
            "listener_scoring_seconds",
            "Time to score one batch of mentions (in this process or by the scoring workers).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.scored = Counter("listener_scored_mentions", "Mentions scored.", registry=r)
        self.batches = Histogram(
            "listener_pipeline_batch_seconds",
            "Time from a batch entering the pipeline (match) to being stored (committed).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "listener_deliveries",
            "Alert and reply delivery attempts by channel and outcome (sent, retry, failed, "
            "unknown: may or may not have gone out, a person checks).",
            ["kind", "channel", "outcome"],
            registry=r,
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def poll_done(
        self, source: str, outcome: str, *, fetched: int = 0, stored: int = 0, duplicates: int = 0
    ) -> None:
        self.polls.labels(source, outcome).inc()
        if fetched:
            self.mentions.labels(source, "fetched").inc(fetched)
        if stored:
            self.mentions.labels(source, "stored").inc(stored)
        if duplicates:
            self.mentions.labels(source, "duplicate").inc(duplicates)

    def scored_batch(self, seconds: float, count: int) -> None:
        self.scoring.observe(seconds)
        self.scored.inc(count)

    def stored_batch(self, seconds: float) -> None:
        self.batches.observe(seconds)

    def delivery(self, kind: str, channel: str, outcome: str) -> None:
        self.deliveries.labels(kind, channel, outcome).inc()

    def prepare_sources(self, names: Iterable[str]) -> None:
        """Start every source's poll and mention series at 0, so `rate()` and `increase()`
        see the first poll (a series that appears at 1 hides its first increment)."""
        for name in names:
            for outcome in POLL_OUTCOMES:
                self.polls.labels(name, outcome)
            for result in ("fetched", "stored", "duplicate"):
                self.mentions.labels(name, result)

    def prepare_channels(self, kind: str, channels: Iterable[str]) -> None:
        for channel in channels:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(kind, channel, outcome)


def timed() -> Callable[[], float]:
    """A stopwatch: call the result for the seconds since `timed()`."""
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class JobView:
    """What the collector needs of a periodic job's record."""

    id: str
    running: bool
    last_success_at: datetime | None
    last_duration: float
    runs: int


class StateCollector(Collector):
    """Gauges read at scrape time: from the store (cached), the job tracker and the scheduler.

    If the database cannot be read, `listener_database_up` is 0 and the database gauges are
    left out of that scrape rather than shown stale.
    """

    def __init__(
        self,
        *,
        snapshot: Callable[[], QueueSnapshot],
        health: Callable[[], Sequence[tuple[str, Health]]],
        jobs: Callable[[], Sequence[JobView]],
        scheduler_up: Callable[[], bool | None],
        clock: Clock,
        instance: str,
    ) -> None:
        self.snapshot = snapshot
        self.health = health
        self.jobs = jobs
        self.scheduler_up = scheduler_up
        self.clock = clock
        self.instance = instance

    def describe(self) -> Iterable[Metric]:
        return []  # collected at scrape time only; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        now = self.clock.now()
        info = InfoMetricFamily("listener_build", "The running listener.")
        info.add_metric([], {"version": listener_version(), "service_instance": self.instance})
        yield info
        up = self.scheduler_up()
        if up is not None:
            yield _gauge("listener_scheduler_up", "1 while the scheduler runs jobs.", float(up))
        yield from self._jobs()
        try:
            snap = self.snapshot()
            health = self.health()
        except Exception as exc:  # a scrape reports the database down; it never fails
            log.warning("metrics: the database could not be read: %s", exc)
            yield _gauge("listener_database_up", "1 if the last database read worked.", 0.0)
            return
        yield _gauge("listener_database_up", "1 if the last database read worked.", 1.0)
        yield from self._database(snap, now)
        yield from self._sources(snap, health)

    def _jobs(self) -> Iterable[Metric]:
        jobs = self.jobs()
        if not jobs:
            return
        running = GaugeMetricFamily(
            "listener_job_running", "1 while a periodic job runs.", labels=["job"]
        )
        success = GaugeMetricFamily(
            "listener_job_last_success_timestamp_seconds",
            "When a periodic job last finished without error (Unix time).",
            labels=["job"],
        )
        duration = GaugeMetricFamily(
            "listener_job_last_duration_seconds",
            "How long a periodic job's last run took.",
            labels=["job"],
        )
        dispatchers = GaugeMetricFamily(
            "listener_dispatcher_last_run_timestamp_seconds",
            "When a dispatcher (alert or reply) last finished a pass without error (Unix time).",
            labels=["kind"],
        )
        for job in jobs:
            running.add_metric([job.id], 1.0 if job.running else 0.0)
            if job.runs:
                duration.add_metric([job.id], job.last_duration)
            if job.last_success_at is not None:
                success.add_metric([job.id], job.last_success_at.timestamp())
                kind = {"alerts": "alert", "dispatch": "reply"}.get(job.id)
                if kind is not None:
                    dispatchers.add_metric([kind], job.last_success_at.timestamp())
        yield from (running, success, duration, dispatchers)

    def _database(self, snap: QueueSnapshot, now: datetime) -> Iterable[Metric]:
        drafts = GaugeMetricFamily(
            "listener_queue_drafts",
            "Replies in the work queue by status (sent, rejected and cancelled are history).",
            labels=["status"],
        )
        for status in QUEUE_STATUSES:
            drafts.add_metric([status], float(snap.drafts_by_status.get(status, 0)))
        yield drafts
        incidents = GaugeMetricFamily(
            "listener_incidents_open",
            "Active incidents (open or acknowledged) by severity.",
            labels=["severity"],
        )
        unacknowledged = GaugeMetricFamily(
            "listener_incidents_unacknowledged",
            "Open incidents nobody has acknowledged yet, by severity.",
            labels=["severity"],
        )
        for severity in SEVERITIES:
            active = sum(snap.incidents.get((s, severity), 0) for s in ACTIVE_INCIDENTS)
            incidents.add_metric([severity], float(active))
            unacknowledged.add_metric([severity], float(snap.incidents.get(("open", severity), 0)))
        yield incidents
        yield unacknowledged
        age = GaugeMetricFamily(
            "listener_outbox_oldest_age_seconds",
            "Age of the oldest undelivered alert (since it was raised) and of the oldest "
            "approved reply not yet sent (since its approval); 0 when nothing waits.",
            labels=["kind"],
        )
        for kind, since in (
            ("alert", snap.oldest_alert_waiting),
            ("reply", snap.oldest_reply_waiting),
        ):
            age.add_metric([kind], max(0.0, (now - since).total_seconds()) if since else 0.0)
        yield age

    def _sources(
        self, snap: QueueSnapshot, health: Sequence[tuple[str, Health]]
    ) -> Iterable[Metric]:
        states = GaugeMetricFamily(
            "listener_source_health",
            "1 for a source's current health state, 0 for the others.",
            labels=["source", "state"],
        )
        for name, judged in health:
            for state in HealthState:
                states.add_metric([name, state.value], 1.0 if judged.state is state else 0.0)
        yield states
        success = GaugeMetricFamily(
            "listener_source_last_success_timestamp_seconds",
            "When a source was last polled successfully (Unix time).",
            labels=["source"],
        )
        failures = GaugeMetricFamily(
            "listener_source_consecutive_failures",
            "Failed polls of a source in a row (0 after a success).",
            labels=["source"],
        )
        for source in snap.sources:
            if source.last_success_at is not None:
                success.add_metric([source.name], source.last_success_at.timestamp())
            failures.add_metric([source.name], float(source.consecutive_failures))
        yield success
        yield failures


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class SourceHealthCache:
    """Source health as the `sources.health` job last judged it (every minute), or judged here
    when that is older than `observed_for` (before the job's first run, and in `listener web`,
    which runs no jobs); a judgement made here is kept for `judged_for`. The judgement counts a
    day of mentions per source, which is too heavy to repeat on every scrape. Ages are
    measured on the monotonic clock: they are about this process's work, not the data's time."""

    def __init__(
        self,
        judge: Callable[[], list[tuple[str, Health]]],
        *,
        observed_for: timedelta,
        judged_for: timedelta,
    ) -> None:
        self.judge = judge
        self.observed_for = observed_for.total_seconds()
        self.judged_for = judged_for.total_seconds()
        self._observed: tuple[float, list[tuple[str, Health]]] | None = None
        self._judged: tuple[float, list[tuple[str, Health]]] | None = None

    def observed(self, judged: Sequence[tuple[str, Health]]) -> None:
        self._observed = (time.monotonic(), list(judged))

    def get(self) -> list[tuple[str, Health]]:
        now = time.monotonic()
        for kept, fresh_for in (
            (self._observed, self.observed_for),
            (self._judged, self.judged_for),
        ):
            if kept is not None and now - kept[0] < fresh_for:
                return kept[1]
        judged = self.judge()
        self._judged = (now, judged)
        return judged
