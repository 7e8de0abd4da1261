"""Tell operators once when a source stops working, not at every poll.

Runs as a periodic job: each source's recorded history is judged by
`listener.sources.health.assess`; the first time a source needs attention an operator alert
goes into the alert outbox, in the same transaction that marks the source as alerted, and the
mark is cleared once it recovers, so the next outage alerts again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from listener.clock import Clock
from listener.settings import Settings
from listener.sources.health import Health, HealthState, assess
from listener.store import SourceStatus, Store

log = logging.getLogger("listener.sources")


def health_of(status: SourceStatus, settings: Settings, now: datetime) -> Health:
    every = {c.name: c.every for c in settings.sources}.get(status.name, timedelta(minutes=5))
    return assess(
        now=now,
        every=every,
        consecutive_failures=status.consecutive_failures,
        last_error=status.last_error,
        last_success_at=status.last_success_at,
        last_polled_at=status.last_polled_at,
        retry_at=status.retry_at,
        disabled_reason=status.disabled_reason,
        mentions_total=status.mentions_total,
        mentions_24h=status.mentions_24h,
        failures_threshold=settings.service.unhealthy_after_failures,
    )


def watch_sources(
    store: Store,
    settings: Settings,
    clock: Clock,
    observed: Callable[[Sequence[tuple[str, Health]]], None] | None = None,
) -> int:
    """Alert on sources that newly need attention; returns how many alerts were queued.

    `observed` is handed every source's judged health (the metrics show it).
    """
    now = clock.now()
    queued = 0
    statuses = store.sources.statuses(now)
    judged = [(status, health_of(status, settings, now)) for status in statuses]
    if observed is not None:
        observed([(status.name, health) for status, health in judged])
    for status, health in judged:
        if not health.needs_attention:
            if status.health_alerted_at is not None and health.state is HealthState.HEALTHY:
                store.sources.recovered(status.name)
            continue
        if status.health_alerted_at is not None:
            continue
        since = status.last_success_at.isoformat() if status.last_success_at else "never"
        alert_id = store.sources.alert_unhealthy(
            status.name,
            title=f"Source {status.name} ({status.kind}) is {health.state.value}",
            body={
                "kind": "source.unhealthy",
                "source": status.name,
                "source_kind": status.kind,
                "health": health.state.value,
                "text": f"{health.reason}. Last success: {since}. "
                "Mentions from this source are not being heard until it is fixed.",
                "url": f"{settings.web.public_url}/admin",
            },
            dedupe_key=f"source:{status.name}:{health.state.value}:{since}",
            at=now,
        )
        if alert_id is not None:
            queued += 1
            log.warning(
                "source %s needs attention: %s",
                status.name,
                health.reason,
                extra={"source": status.name},
            )
    return queued
