"""Incidents (`store.incidents`): the board and its actions, the quiet resolver, the detection
step's transaction, and what a backtest measures."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from listener.domain import StoredMention
from listener.incidents.detector import ActiveIncident
from listener.store import holds
from listener.store import incidents as q
from listener.store.alerts import enqueue_alert
from listener.store.areas.base import Area
from listener.store.incidents import Incident, IncidentDetail, IncidentFilter, LockedState
from listener.store.mentions import MENTION


@dataclass(frozen=True, slots=True)
class IncidentTrace:
    """What a backtest measures of one detected incident."""

    incident: Incident
    mention_keys: list[tuple[str, str]]  # (source, external id) of each of its mentions
    mention_times: list[datetime]
    mentions_before_opening: int


class DetectionStep:
    """The detection step's view of its one write transaction: the brand state rows it locks,
    the incidents it reads and saves and the alerts it queues commit together or not at all."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_brand_state(self, brand: str, at: datetime, known: datetime | None) -> LockedState:
        return q.lock_brand_state(self._conn, brand, at, known)

    def missed_mentions(
        self, brand: str, after_id: int, batch: Sequence[StoredMention]
    ) -> list[StoredMention]:
        return q.missed_mentions(self._conn, brand, after_id, batch)

    def active_incidents(self, brand: str) -> list[ActiveIncident]:
        return q.active_incidents(self._conn, brand)

    def save_detected(self, incident: ActiveIncident, now: datetime) -> int:
        return q.save_detected(self._conn, incident, now)

    def get(self, incident_id: int) -> Incident:
        return q.get(self._conn, incident_id)

    def apply_hold_rule(
        self, incident_id: int, crisis_severity: str, at: datetime
    ) -> tuple[bool, list[int]]:
        """Crisis mode, in this transaction: hold the incident once it reaches
        `crisis_severity` (unless a person chose otherwise) and, while it holds, its mentions'
        waiting drafts. Returns (held now, ids of drafts held by this call)."""
        return holds.apply_rule(self._conn, incident_id, crisis_severity, at=at)

    def held_count(self, incident_id: int) -> int:
        return holds.count_held(self._conn, incident_id)

    def save_state(
        self, brand: str, state: dict[str, Any], at: datetime, previous: datetime | None
    ) -> datetime:
        return q.save_state(self._conn, brand, state, at, previous)

    def enqueue_alert(
        self,
        kind: str,
        brand: str,
        severity: str,
        title: str,
        body: dict[str, Any],
        dedupe_key: str,
        at: datetime,
        *,
        incident_id: int | None = None,
    ) -> int | None:
        return enqueue_alert(
            self._conn,
            kind,
            brand,
            severity,
            title,
            body,
            dedupe_key,
            at,
            incident_id=incident_id,
        )


class Incidents(Area):
    def find(
        self,
        *,
        brand: str | None = None,
        status: Sequence[str] = (),
        active_only: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[Incident]:
        """Incidents, active first, then most severe, then newest."""
        f = IncidentFilter(
            brand=brand, status=tuple(status), active_only=active_only, since=since, until=until
        )
        with self._store._read() as conn:
            return q.list_incidents(conn, f, limit=limit)

    def detail(self, incident_id: int) -> IncidentDetail:
        """One incident with its timeline, amplifiers, mention ids and held replies (NotFound
        if none)."""
        with self._store._read() as conn:
            found = q.get_incident(conn, incident_id)
            held = [h.as_dict() for h in holds.held_drafts(conn, incident_id)]
        return replace(found, held_drafts=held)

    # -- crisis mode: the incident's outreach hold -------------------------------------------

    def hold_outreach(self, incident_id: int, *, actor: str, at: datetime) -> list[int]:
        """A person holds the incident's outreach at any severity; the ids of the drafts held
        now (its mentions' pending and snoozed replies)."""
        with self._store._write() as conn:
            return holds.hold_by_person(conn, incident_id, actor=actor, at=at)[1]

    def release_held(self, incident_id: int, *, actor: str, at: datetime) -> list[int]:
        """Release the held replies to the review queue (approval cleared); their ids."""
        with self._store._write() as conn:
            return holds.release(conn, incident_id, actor=actor, at=at)

    def cancel_held(
        self, incident_id: int, *, actor: str, at: datetime, reason: str = ""
    ) -> list[int]:
        """Cancel every reply held under the incident; their ids."""
        with self._store._write() as conn:
            return holds.cancel_held(conn, incident_id, actor=actor, at=at, reason=reason)

    def held_counts(self) -> dict[int, int]:
        """Replies held per incident id (incidents holding none are left out)."""
        with self._store._read() as conn:
            return holds.held_counts(conn)

    def acknowledge(self, incident_id: int, *, actor: str, at: datetime) -> Incident:
        with self._store._write() as conn:
            return q.acknowledge(conn, incident_id, actor=actor, at=at)

    def close(self, incident_id: int, *, actor: str, at: datetime, reason: str = "") -> Incident:
        with self._store._write() as conn:
            return q.close(conn, incident_id, actor=actor, at=at, reason=reason)

    def merge(self, incident_id: int, into_id: int, *, actor: str, at: datetime) -> Incident:
        with self._store._write() as conn:
            return q.merge(conn, incident_id, into_id, actor=actor, at=at)

    def resolve_quiet(self, now: datetime, quiet_after: timedelta) -> list[int]:
        """Resolve incidents quiet for `quiet_after`; an idle check takes no write lock."""
        with self._store._read() as conn:
            if not q.quiet_ids(conn, now, quiet_after):
                return []
        with self._store._write() as conn:
            return q.resolve_quiet(conn, now, quiet_after)

    @contextmanager
    def detection(self) -> Iterator[DetectionStep]:
        """One write transaction for the detection step (see `DetectionStep`)."""
        with self._store._write() as conn:
            yield DetectionStep(conn)

    def traces(self) -> list[IncidentTrace]:
        """Every incident, oldest opened first, with what a backtest measures of it."""
        with self._store._read() as conn:
            found = q.list_incidents(conn, limit=100_000)
            keyed = {
                r.id: (r.source, r.external_id)
                for r in conn.execute(select(MENTION.c.id, MENTION.c.source, MENTION.c.external_id))
            }
            return [
                IncidentTrace(
                    incident,
                    [keyed[i] for i in q.mention_ids(conn, incident.id) if i in keyed],
                    q.mention_times(conn, incident.id),
                    q.mentions_before(conn, incident.id, incident.opened_at),
                )
                for incident in sorted(found, key=lambda i: i.opened_at)
            ]
