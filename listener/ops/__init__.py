"""What operators run the service with: health checks, Prometheus metrics, JSON logs.

`build_ops(settings, store, clock)` is called by `make_listener`; the Listener carries the
result as `listener.ops`, the service attaches its scheduler and jobs to it, and the web
routes (`listener.web.routes_ops`) serve it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta

from listener.clock import Clock
from listener.ops.health import HealthChecks, SchedulerProbe, SingleFlight
from listener.ops.metrics import JobView, Metrics, SourceHealthCache, StateCollector
from listener.settings import Settings
from listener.sources.health import Health
from listener.sources.watch import health_of
from listener.store import QueueSnapshot, Store

__all__ = ["Ops", "build_ops"]


@dataclass
class Ops:
    metrics: Metrics
    checks: HealthChecks
    source_health: SourceHealthCache

    def attach_scheduler(self, probe: SchedulerProbe) -> None:
        self.checks.attach_scheduler(probe)


def build_ops(settings: Settings, store: Store, clock: Clock) -> Ops:
    """Metrics on a fresh registry, health checks, and the scrape-time collector."""
    ops_settings = settings.ops
    metrics = Metrics()
    checks = HealthChecks(
        store, clock, grace=ops_settings.job_grace, timeout=ops_settings.check_timeout
    )

    def judge() -> list[tuple[str, Health]]:
        now = clock.now()
        return [(s.name, health_of(s, settings, now)) for s in store.sources.statuses(now)]

    source_health = SourceHealthCache(
        judge, observed_for=timedelta(minutes=2), judged_for=ops_settings.scrape_cache
    )
    snapshot: SingleFlight[QueueSnapshot] = SingleFlight(
        store.queue_snapshot,
        timeout=ops_settings.check_timeout.total_seconds(),
        ttl=ops_settings.scrape_cache.total_seconds(),
    )

    def jobs() -> list[JobView]:
        return [
            JobView(j.id, j.running, j.last_success_at, j.last_duration, j.runs)
            for j in checks.jobs.snapshot()
        ]

    def scheduler_up() -> bool | None:
        probe = checks.scheduler
        if probe is None:
            return None
        return probe.running() and not probe.stopping()

    metrics.registry.register(
        StateCollector(
            snapshot=snapshot.get,
            health=source_health.get,
            jobs=jobs,
            scheduler_up=scheduler_up,
            clock=clock,
            instance=settings.service.instance or socket.gethostname(),
        )
    )
    metrics.prepare_sources(c.name for c in settings.sources)
    metrics.prepare_channels("alert", (a.name for a in settings.alerts))
    return Ops(metrics=metrics, checks=checks, source_health=source_health)
