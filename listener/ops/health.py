"""Is this process alive, and is it ready for work? What `/healthz` and `/readyz` answer.

Ready means: the database answers and is at the schema this code expects, the scheduler is
running (when this process runs one), and no periodic job has been running, or been waiting
to start, longer than its interval plus a grace period (`[ops] job_grace`). Each check says
what it found in one sentence, with nothing secret in it (no URLs, no tokens).

The job rules are pure functions of the recorded start and end times and `now`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from listener.clock import Clock
from listener.store import Store

T = TypeVar("T")
log = logging.getLogger("listener.ops")


@dataclass
class JobRecord:
    """When one periodic job last started and ended, and how its last run went."""

    id: str
    every: timedelta
    registered_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    last_success_at: datetime | None = None
    last_duration: float = 0.0
    runs: int = 0
    failures: int = 0

    @property
    def running(self) -> bool:
        return self.started_at is not None and (
            self.ended_at is None or self.ended_at < self.started_at
        )


def job_problem(job: JobRecord, now: datetime, grace: timedelta) -> str:
    """Why the job looks stuck, or "" when it does not.

    Running longer than `every + grace` is stuck; so is not having started for that long
    (its thread pool is taken by stuck runs, or the scheduler stopped firing).
    """
    limit = job.every + grace
    if job.running and job.started_at is not None and now - job.started_at > limit:
        return (
            f"job {job.id} has been running for {_seconds(now - job.started_at)} "
            f"(interval {_seconds(job.every)})"
        )
    since = job.started_at or job.registered_at
    if not job.running and now - since > limit:
        what = "last started" if job.started_at is not None else "registered"
        return (
            f"job {job.id} has not started for {_seconds(now - since)} ({what} then; "
            f"interval {_seconds(job.every)})"
        )
    return ""


def _seconds(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"


class JobTracker:
    """The service's record of its periodic jobs (polls included), for readiness and metrics."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()

    def register(self, job_id: str, every: timedelta) -> None:
        with self._lock:
            self._jobs[job_id] = JobRecord(job_id, every, self.clock.now())

    def track(self, job_id: str, run: Callable[[], T]) -> Callable[[], T]:
        """`run`, recording its start and end (a failing run still ends; it re-raises)."""

        def tracked() -> T:
            started = time.perf_counter()
            self._started(job_id)
            ok = False
            try:
                result = run()
                ok = True
                return result
            finally:
                self._ended(job_id, ok, time.perf_counter() - started)

        return tracked

    def _started(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.started_at = self.clock.now()

    def _ended(self, job_id: str, ok: bool, seconds: float) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.ended_at = self.clock.now()
            job.last_duration = seconds
            job.runs += 1
            if ok:
                job.last_success_at = job.ended_at
            else:
                job.failures += 1

    def snapshot(self) -> list[JobRecord]:
        """A copy of every record, in job order."""
        with self._lock:
            return [JobRecord(**vars(j)) for j in sorted(self._jobs.values(), key=lambda j: j.id)]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": "ok" if self.ok else "failing", "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": [c.as_dict() for c in self.checks],
        }


class SchedulerProbe:
    """What the running service tells the health checks about its scheduler."""

    def __init__(self, running: Callable[[], bool], stopping: Callable[[], bool]) -> None:
        self.running = running
        self.stopping = stopping


class SingleFlight(Generic[T]):
    """Run `fetch` on a thread of its own, one call at a time, and wait at most `timeout`.

    A database that stops answering (a dropped network, a full server) must not stack up
    health checks or scrapes behind it: while one call is still out, later callers wait on
    that same call, and each gives up after `timeout` with `TimeoutError`. A result younger
    than `ttl` is returned without asking again.
    """

    def __init__(self, fetch: Callable[[], T], *, timeout: float, ttl: float = 0.0) -> None:
        self.fetch = fetch
        self.timeout = timeout
        self.ttl = ttl
        self._lock = threading.Lock()
        self._running: Future[T] | None = None
        self._value: tuple[float, T] | None = None

    def get(self) -> T:
        with self._lock:
            if self._value is not None and time.monotonic() - self._value[0] < self.ttl:
                return self._value[1]
            future = self._running
            if future is None:
                future = Future()
                self._running = future
                threading.Thread(
                    target=self._run, args=(future,), name="ops-check", daemon=True
                ).start()
        return future.result(timeout=self.timeout)

    def _run(self, future: Future[T]) -> None:
        try:
            value = self.fetch()
        except BaseException as exc:
            with self._lock:
                self._running = None
            future.set_exception(exc)
            return
        with self._lock:
            self._running = None
            self._value = (time.monotonic(), value)
        future.set_result(value)


class HealthChecks:
    """Answers `/readyz` for one Listener; the service attaches its scheduler and jobs."""

    def __init__(self, store: Store, clock: Clock, *, grace: timedelta, timeout: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.grace = grace
        self.jobs = JobTracker(clock)
        self.scheduler: SchedulerProbe | None = None
        self._schema = SingleFlight(store.schema_state, timeout=timeout.total_seconds())
        self._database_error = ""

    def attach_scheduler(self, probe: SchedulerProbe) -> None:
        self.scheduler = probe

    def readiness(self) -> Readiness:
        return Readiness([self._database(), self._scheduler(), self._jobs()])

    def _database(self) -> Check:
        try:
            state = self._schema.get()
        except TimeoutError:
            return Check("database", False, f"no answer within {self._schema.timeout:g} s")
        except Exception as exc:  # a health check reports; it never raises
            # The cause names hosts, ports or files: it goes to the log (once per outage),
            # not to an endpoint anyone may ask.
            if self._database_error != str(exc):
                self._database_error = str(exc)
                log.warning("readiness: the database cannot be used: %s", exc)
            return Check(
                "database", False, "unreachable or refusing queries (the service log has the cause)"
            )
        if self._database_error:
            log.info("readiness: the database answers again")
            self._database_error = ""
        if not state.at_head:
            return Check(
                "database",
                False,
                f"schema is at {', '.join(state.current) or 'nothing'}; this listener "
                f"expects {', '.join(state.head)} (run `listener run` of the matching version "
                "once, or upgrade this one)",
            )
        return Check("database", True, f"reachable, schema at {', '.join(state.current)}")

    def _scheduler(self) -> Check:
        probe = self.scheduler
        if probe is None:
            return Check("scheduler", True, "this process runs no scheduler (desk only)")
        if probe.stopping():
            return Check("scheduler", False, "stopping: finishing running polls")
        if not probe.running():
            return Check("scheduler", False, "not running")
        return Check("scheduler", True, "running")

    def _jobs(self) -> Check:
        if self.scheduler is None:
            return Check("jobs", True, "no periodic jobs in this process")
        now = self.clock.now()
        jobs = self.jobs.snapshot()
        problems = [p for p in (job_problem(j, now, self.grace) for j in jobs) if p]
        if problems:
            return Check("jobs", False, "; ".join(problems))
        return Check("jobs", True, f"{len(jobs)} job(s) on time")
