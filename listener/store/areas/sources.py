"""Sources (`store.sources`): their rows, poll progress and failures, health marks and
polling leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from listener.domain import PollState
from listener.sources.leases import LeaseState
from listener.store import leases, sources
from listener.store.alerts import enqueue_alert
from listener.store.areas.base import Area
from listener.store.sources import SourceStatus, set_health_alerted


class Sources(Area):
    def ensure(self, entries: list[tuple[str, str, str]]) -> None:
        """A row for each configured (name, kind, target) source; existing state is kept."""
        with self._store._write() as conn:
            sources.ensure_sources(conn, entries)

    def poll_start(self, name: str) -> tuple[datetime | None, PollState]:
        """When the source may be polled again (None: now) and where its last poll stopped."""
        with self._store._read() as conn:
            return sources.poll_start(conn, name)

    def record_failure(
        self, name: str, error: str, at: datetime, retry_at: datetime | None = None
    ) -> None:
        with self._store._write() as conn:
            sources.record_failure(conn, name, error, at, retry_at)

    def record_disabled(self, name: str, reason: str) -> None:
        with self._store._write() as conn:
            sources.record_disabled(conn, name, reason)

    def statuses(self, now: datetime) -> list[SourceStatus]:
        with self._store._read() as conn:
            return sources.statuses(conn, now)

    def recovered(self, name: str) -> None:
        """Forget that operators were told about the source, so its next outage alerts again."""
        with self._store._write() as conn:
            set_health_alerted(conn, name, None)

    def alert_unhealthy(
        self, name: str, *, title: str, body: dict[str, Any], dedupe_key: str, at: datetime
    ) -> int | None:
        """Queue the operators' alert and mark the source alerted, in one transaction; the
        alert's id, or None if the same alert was queued before."""
        with self._store._write() as conn:
            alert_id = enqueue_alert(
                conn, "source.unhealthy", "", "medium", title, body, dedupe_key, at
            )
            set_health_alerted(conn, name, at)
        return alert_id

    # leases ------------------------------------------------------------------------------

    def claim_leases(
        self,
        names: Sequence[str],
        *,
        owner: str,
        now: datetime,
        until: datetime,
        limit: int | None = None,
    ) -> list[str]:
        """Take the lease of those `names` that are due; the names now held by `owner`."""
        with self._store._write() as conn:
            return leases.claim(conn, names, owner=owner, now=now, until=until, limit=limit)

    def renew_leases(self, names: Sequence[str], *, owner: str, until: datetime) -> set[str]:
        """Push the expiry of leases `owner` still holds; the names it still holds."""
        with self._store._write() as conn:
            return leases.renew(conn, names, owner=owner, until=until)

    def release_lease(self, name: str, *, owner: str, not_before: datetime) -> bool:
        """Give the lease up; nobody polls the source again before `not_before`."""
        with self._store._write() as conn:
            return leases.release(conn, name, owner=owner, not_before=not_before)

    def release_all_leases(self, *, owner: str, now: datetime) -> int:
        """On a clean shutdown: leases held by `owner` become free at once for the others."""
        with self._store._write() as conn:
            return leases.release_all(conn, owner=owner, now=now)

    def lease_states(self) -> dict[str, LeaseState]:
        with self._store._read() as conn:
            return leases.lease_states(conn)
