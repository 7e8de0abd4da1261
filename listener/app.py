"""The one wiring place: build a Listener from settings, with every part replaceable.

`make_listener(settings, store=..., scorer=..., clock=..., sources=...)` is what the CLI, the
service, the web app, the tests and the benchmarks all use; tests pass real local servers or
fakes through the same parameters instead of patching modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from listener._process import usable_cores
from listener.alerts.channel import Channel
from listener.alerts.dispatcher import AlertDispatcher
from listener.clock import Clock, SystemClock
from listener.domain import Channel as ReplyChannel
from listener.errors import NotFound, SourceDisabled, StoreError
from listener.incidents.tracking import build_incidents
from listener.ops import Ops, build_ops
from listener.outreach.dispatch import Dispatcher
from listener.outreach.drafting import Drafter
from listener.outreach.publishers.base import Publisher
from listener.outreach.statement_text import StatementWriter
from listener.outreach.steps import build_outreach
from listener.pipeline import AfterStore, Pipeline, PollReport
from listener.scoring.base import Scorer
from listener.scoring.workers import BatchWork, ScoringWorkers, auto_workers
from listener.settings import Settings
from listener.sources import FEED_KINDS, build_source
from listener.sources.base import Source
from listener.sources.feed import HostClients
from listener.sources.fetch_worker import (
    FetchWorker,
    WorkerFetchedSource,
    answer_deadline,
    worker_wanted,
)
from listener.sources.polling import ConcurrentPolling
from listener.sources.watch import watch_sources
from listener.store import Store
from listener.text.matching import BrandMatcher, BrandTerms

log = logging.getLogger("listener")


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """Work the service runs on a timer besides polling (dispatch alerts, send replies ...)."""

    id: str
    run: Callable[[], object]
    every: timedelta


@dataclass
class Listener:
    settings: Settings
    store: Store
    pipeline: Pipeline
    clock: Clock
    sources: dict[str, Source]
    ops: Ops
    disabled: dict[str, str] = field(default_factory=dict)
    jobs: list[PeriodicJob] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    fetch_worker: FetchWorker | None = None
    replies: Dispatcher | None = None  # sends approved replies (the reply outbox)
    alerts: AlertDispatcher | None = None  # delivers crisis alerts (the alert outbox)

    def poll(self, name: str | None = None) -> list[PollReport]:
        """Poll every enabled source (or one) once, concurrently; one failure stops nothing."""
        if name is not None:
            if name in self.disabled:
                return [PollReport(source=name, skipped=self.disabled[name])]
            if name not in self.sources:
                known = ", ".join(sorted([*self.sources, *self.disabled])) or "none"
                raise NotFound(f"there is no source named {name!r} (configured: {known})")
            return [self.pipeline.poll(self.sources[name])]
        chosen = list(self.sources.values())
        reports = [PollReport(source=n, skipped=why) for n, why in self.disabled.items()]
        if not chosen:
            return reports
        if len(chosen) >= 8 and self.pipeline.workers is not None:
            self.pipeline.workers.warm_up()  # many polls at once: score off this process
        polling = ConcurrentPolling(
            self.pipeline.poll,
            max_workers=self.settings.service.max_concurrent_polls,
            per_host_limit=self.settings.service.per_host_limit,
        )
        reports.extend(polling.poll_all(chosen))
        return reports

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
        for closer in self.closers:
            closer()
        self.store.close()


def check_templates(settings: Settings) -> None:
    """Raise SettingsError if the reply or holding-statement templates (built-in or overrides)
    cannot be used: the service finds out as it starts, not in the middle of an incident."""
    if settings.outreach.enabled:
        Drafter(settings.templates_override(), settings.outreach)
        StatementWriter(settings.templates_override())


def make_listener(
    settings: Settings,
    *,
    store: Store | None = None,
    scorer: Scorer | None = None,
    clock: Clock | None = None,
    sources: Sequence[Source] | None = None,
    environ: Mapping[str, str] | None = None,
    after_store: Sequence[AfterStore] = (),
    defer_scorer: bool = False,
    channels: Mapping[str, Channel] | None = None,
    publishers: Mapping[ReplyChannel, Publisher] | None = None,
) -> Listener:
    """Everything wired from settings; any argument given replaces the built one.

    `channels` are the alert channels by name (as `[[alerts.channels]]` names them) and
    `publishers` the reply publishers by channel: tests pass local or recording ones here
    instead of building a second dispatcher.

    With `defer_scorer`, the scorer is built the first time something is scored (see
    `DeferredScorer`): for commands that only read or review the store.
    """
    env = dict(os.environ if environ is None else environ)
    clock = clock or SystemClock()
    # Templates are checked before the store is opened: a mistake there must not leave a
    # new database file behind.
    drafter = (
        Drafter(
            settings.templates_override(),
            settings.outreach,
            news_domains=settings.incidents.news_domains,
        )
        if settings.outreach.enabled
        else None
    )
    store = store or Store.open(
        settings.database_url,
        echo=settings.database.echo,
        pool_size=settings.service.max_concurrent_polls + 4,  # + the service's other jobs
    )
    feed_clients: HostClients | None = None
    fetch_worker: FetchWorker | None = None
    try:
        now = clock.now()
        store.ensure_brands([b.name for b in settings.brands], now)
        built_scorer = scorer is None
        if scorer is None:
            from listener.scoring import DeferredScorer, make_scorer

            scorer = (
                DeferredScorer(settings.scoring) if defer_scorer else make_scorer(settings.scoring)
            )
        matcher = BrandMatcher([BrandTerms(b.name, b.terms, b.exclude) for b in settings.brands])
        built, disabled, feed_clients = (
            _build_sources(settings, env, clock)
            if sources is None
            else ({s.name: s for s in sources}, {}, None)
        )
        store.sources.ensure(
            [(c.name, c.kind, _target(c)) for c in settings.sources]
            + [(s.name, s.kind, "") for s in built.values() if s.name not in _names(settings)]
        )
        for name, reason in disabled.items():
            store.sources.record_disabled(name, reason)
        fetch_worker = None if sources is not None else _fetch_worker(settings, env, built)
        workers: ScoringWorkers | None = None
        count = settings.scoring.workers
        count = auto_workers() if count == "auto" else count
        # Workers rebuild the scorer and drafter from settings, so only those built from
        # settings can be handed to them (a scorer passed in stays in this process).
        if built_scorer and count > 0:
            work = BatchWork(scorer, drafter, settings.brands)
            workers = ScoringWorkers(work, settings, workers=count)
        ops = build_ops(settings, store, clock)
        ops.metrics.prepare_sources(n for n in built if n not in _names(settings))
        outreach = build_outreach(settings, store, clock, env, publishers, metrics=ops.metrics)
        incidents = build_incidents(settings, store, clock, env, channels, metrics=ops.metrics)
        pipeline = Pipeline(
            brands=settings.brands,
            store=store,
            scorer=scorer,
            matcher=matcher,
            drafter=drafter,
            clock=clock,
            source_brands={c.name: c.brands for c in settings.sources if c.brands},
            after_store=[*outreach.after_store, *incidents.after_store, *after_store],
            draft_filter=outreach.draft_filter,
            workers=workers,
            metrics=ops.metrics,
            opt_out_of=outreach.opt_out_of,
            reply_brands=_reply_brands(settings),
            max_drafts_per_poll=settings.outreach.max_drafts_per_poll,
        )
    except StoreError:
        if feed_clients is not None:
            feed_clients.close()
        if fetch_worker is not None:
            fetch_worker.close()
        store.close()
        raise
    return Listener(
        settings=settings,
        store=store,
        pipeline=pipeline,
        clock=clock,
        sources=built,
        ops=ops,
        disabled=disabled,
        jobs=[
            PeriodicJob(
                "dispatch",
                partial(_settle_then_dispatch, pipeline, outreach.run_dispatch),
                settings.outreach.dispatch_every,
            ),
            PeriodicJob("alerts", incidents.dispatcher.run_once, settings.incidents.dispatch_every),
            PeriodicJob(
                "incidents.resolve", incidents.resolver.run_once, settings.incidents.resolve_every
            ),
            PeriodicJob(
                "drafts.wake", lambda: store.desk.wake_snoozed(clock.now()), timedelta(minutes=1)
            ),
            PeriodicJob("pipeline.settle", pipeline.settle_pending, timedelta(minutes=1)),
            PeriodicJob(
                "sources.health",
                partial(watch_sources, store, settings, clock, observed=ops.source_health.observed),
                timedelta(minutes=1),
            ),
        ],
        closers=[
            outreach.dispatcher.close,
            incidents.dispatcher.close,
            *([workers.close] if workers is not None else []),
            *([feed_clients.close] if feed_clients is not None else []),
            *([fetch_worker.close] if fetch_worker is not None else []),
        ],
        fetch_worker=fetch_worker,
        replies=outreach.dispatcher,
        alerts=incidents.dispatcher,
    )


# A batch stored this long ago whose steps have not finished was left by a run that stopped;
# a younger one may still be having its steps run by the process that stored it.
SETTLE_BEFORE_DISPATCH_GRACE = timedelta(seconds=30)


def _settle_then_dispatch(pipeline: Pipeline, dispatch: Callable[[], object]) -> None:
    """Settle what an interrupted run left (its opt-outs, cases) before any reply is sent.

    The dispatcher also reads every unsettled mention of a reply's author for an opt-out
    under its send lock, so a batch too young to settle here still cannot be missed.
    """
    pipeline.settle_pending(grace=SETTLE_BEFORE_DISPATCH_GRACE)
    dispatch()


def _reply_brands(settings: Settings) -> dict[str, str]:
    """X account id or "@handle" → the brand whose account it is.

    From each brand's `x_user_id` and `x_handle`, and from an X source's `user_id` (the account
    whose mentions it reads) when that source serves a single brand.
    """
    found: dict[str, str] = {}
    for brand in settings.brands:
        if brand.x_user_id.strip():
            found[brand.x_user_id.strip()] = brand.name
        if handle := brand.x_handle.strip().lstrip("@"):
            found[f"@{handle}".lower()] = brand.name
    for source in settings.sources:
        user_id = getattr(source, "user_id", "").strip()
        served = source.brands or [b.name for b in settings.brands]
        if source.kind == "x" and user_id and len(served) == 1:
            found.setdefault(user_id, served[0])
    return found


def _names(settings: Settings) -> set[str]:
    return {c.name for c in settings.sources}


def _target(config: object) -> str:
    for attr in ("url", "query", "tag", "account"):
        value = getattr(config, attr, "")
        if value:
            return str(value)
    return ""


def _fetch_worker(
    settings: Settings, environ: Mapping[str, str], built: dict[str, Source]
) -> FetchWorker | None:
    """Hand the feed-kind sources' fetches to a worker process when settings want one (the
    sources in `built` are wrapped in place); it starts with the first poll."""
    feeds = [c.name for c in settings.sources if c.kind in FEED_KINDS and c.name in built]
    if not worker_wanted(settings.service.fetch_worker, len(feeds), usable_cores()):
        return None
    worker = FetchWorker(
        settings,
        environ,
        channels=settings.service.max_concurrent_polls,
        answer_within=answer_deadline(settings),
    )
    for name in feeds:
        built[name] = WorkerFetchedSource(built[name], worker)
    return worker


def _build_sources(
    settings: Settings, environ: Mapping[str, str], clock: Clock
) -> tuple[dict[str, Source], dict[str, str], HostClients | None]:
    """The enabled sources, why the others are off, and the HTTP clients the feeds share."""
    built: dict[str, Source] = {}
    disabled: dict[str, str] = {}
    clients: HostClients | None = None
    try:
        for config in settings.sources:
            if not config.enabled:
                disabled[config.name] = "disabled in settings (enabled = false)"
                continue
            if config.kind in FEED_KINDS and clients is None:
                clients = HostClients(settings.service.per_host_limit)
            try:
                built[config.name] = build_source(
                    config, settings, environ, feed_clients=clients, clock=clock
                )
            except SourceDisabled as exc:
                disabled[config.name] = str(exc)
                log.warning("%s", exc)
    except BaseException:
        if clients is not None:
            clients.close()
        raise
    return built, disabled, clients
