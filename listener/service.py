"""The scheduled service: APScheduler runs each source on its interval, and the periodic jobs.

One scheduler per process (APScheduler's own advice); jobs have stable ids, never overlap
(`max_instances=1`), coalesce missed runs, and are spread over their interval so many sources do
not poll in lockstep (periodic jobs by jitter; polls by a per-source offset that every instance
shares, so with several instances a source is claimed once per tick: see listener.sources.leases).
SIGINT/SIGTERM pause the scheduler, let running polls finish, then shut down; from that
moment `/readyz` answers 503 so a load balancer stops sending work. An HTTP fetch still in
flight `STOP_GRACE` after the signal is stopped (`abort_fetches`): a server that drips its
answer must not hold the shutdown for its whole deadline. SIGHUP reopens the log file (after
logrotate moved it) and reloads nothing else: settings change with a restart.

Every job is tracked (last start and end) for `/readyz` and `/metrics` (listener.ops).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from listener.app import Listener
from listener.ops.health import SchedulerProbe
from listener.pipeline import PollReport
from listener.sources.base import Source
from listener.sources.bounded_http import abort_fetches, resume_fetches
from listener.sources.leases import schedule_anchor
from listener.sources.polling import HostLimiter, SourceLeases, instance_id

log = logging.getLogger("listener.service")

# How long fetches in flight may go on after a stop signal before they are cut off.
STOP_GRACE = 10.0


def _jitter(every: timedelta) -> int:
    return int(min(max(every.total_seconds() * 0.1, 0), 30))


class Service:
    """Runs a Listener until stopped."""

    def __init__(
        self,
        listener: Listener,
        *,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> None:
        self.listener = listener
        self.on_report = on_report or _log_report
        self.stopped = threading.Event()
        # Set the moment a stop is asked for: /readyz fails from then on.
        self.stopping = threading.Event()
        self.on_hangup: Callable[[], object] | None = None
        service = listener.settings.service
        # Several instances may share one PostgreSQL database: each poll first claims the
        # source's lease, so a source is polled by one instance per interval
        # (listener.sources.leases).
        self.instance = instance_id(service.instance)
        self.leases = SourceLeases(
            listener.store, owner=self.instance, lease=service.lease, clock=listener.clock
        )
        self.hosts = HostLimiter(service.per_host_limit)
        workers = max(2, min(listener.settings.service.max_concurrent_polls, 32))
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            timezone="UTC",
        )
        # Until start() the scheduler is not running, so /readyz says not ready yet.
        listener.ops.attach_scheduler(
            SchedulerProbe(
                running=lambda: self.scheduler.state == STATE_RUNNING,
                stopping=self.stopping.is_set,
            )
        )

    def _poll_job(self, source: Source, every: timedelta) -> Callable[[], None]:
        def poll_politely(chosen: Source) -> PollReport:
            return self.hosts.poll(chosen, self.listener.pipeline.poll)

        def run() -> None:
            if self.stopped.is_set():
                return
            report = self.leases.poll_if_due(source, every, poll_politely)
            if report is not None:
                self.on_report(report)

        return run

    def _guarded(self, run_job: Callable[[], object], job_id: str) -> Callable[[], None]:
        def run() -> None:
            try:
                run_job()
            except Exception:  # a failing job is logged and runs again next time
                log.exception("job %s failed", job_id, extra={"job": job_id})

        return run

    def start(self) -> None:
        resume_fetches()
        intervals = {c.name: c.every for c in self.listener.settings.sources}
        now = self.listener.clock.now()
        jobs = self.listener.ops.checks.jobs
        for name, source in self.listener.sources.items():
            every = intervals.get(name, timedelta(minutes=5))
            jobs.register(f"poll:{name}", every)
            self.scheduler.add_job(
                jobs.track(f"poll:{name}", self._poll_job(source, every)),
                # One grid per source shared by all instances, no random jitter (leases.py).
                IntervalTrigger(
                    seconds=every.total_seconds(), start_date=schedule_anchor(name, every)
                ),
                id=f"poll:{name}",
                name=f"poll {name}",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(every.total_seconds()), 1),
                next_run_time=now,
            )
        for job in self.listener.jobs:
            jobs.register(job.id, job.every)
            self.scheduler.add_job(
                self._guarded(jobs.track(job.id, job.run), job.id),
                IntervalTrigger(seconds=job.every.total_seconds(), jitter=_jitter(job.every)),
                id=job.id,
                name=job.id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(job.every.total_seconds()), 1),
            )
        self.leases.start()
        if self.listener.pipeline.workers is not None:
            self.listener.pipeline.workers.warm_up()  # the service's polls overlap: see start()
        self.scheduler.start()

    def stop(self) -> None:
        self.stopping.set()
        try:
            if self.scheduler.running:
                self.scheduler.pause()
                abort_fetches(STOP_GRACE)
                self.scheduler.shutdown(wait=True)
        finally:
            resume_fetches()  # for whatever else this process fetches after the service
        self.leases.stop()
        self.stopped.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info(
                "received %s; finishing running polls and stopping", signal.Signals(signum).name
            )
            self.stopping.set()
            self.stopped.set()
            abort_fetches(STOP_GRACE)

        def hangup(_signum: int, _frame: FrameType | None) -> None:
            if self.on_hangup is not None:
                self.on_hangup()
            log.info("received SIGHUP: log file reopened; settings are read only at start")

        signal.signal(signal.SIGINT, handle)
        signal.signal(signal.SIGTERM, handle)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, hangup)

    def run_forever(self) -> None:
        """Start, block until a signal (or `stopped` is set), then stop cleanly."""
        self.start()
        try:
            self.stopped.wait()
        finally:
            self.stop()


def _log_report(report: PollReport) -> None:
    """One line per poll: a failure as a warning, with the source as context."""
    level = logging.WARNING if report.error else logging.INFO
    log.log(level, "%s", report.summary(), extra={"source": report.source})
