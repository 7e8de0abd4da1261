"""Incident storage: detector state per brand, incidents with their mentions and timeline, and
the operator actions on them (acknowledge, close, merge), each audited in its own transaction.

The web pages read incidents through `list_incidents`, `get_incident` and `mention_ids_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, func, insert, select, update

from listener.domain import StoredMention
from listener.errors import InvalidTransition, NotFound
from listener.incidents.detector import ActiveIncident
from listener.incidents.holds import holds_outreach
from listener.incidents.model import (
    IncidentProfile,
    IncidentStatus,
    Severity,
    ranked,
    summary,
    title,
)
from listener.incidents.types import incident_kind
from listener.store import audit
from listener.store.bulk import insert_rows, upsert_ignore
from listener.store.incident_tables import (
    DetectorStateRow,
    IncidentEventRow,
    IncidentMentionRow,
    IncidentRow,
)
from listener.store.mentions import MENTION, mentions_by_ids

INCIDENT: Table = IncidentRow.__table__  # type: ignore[attr-defined]
INCIDENT_MENTION: Table = IncidentMentionRow.__table__  # type: ignore[attr-defined]
INCIDENT_EVENT: Table = IncidentEventRow.__table__  # type: ignore[attr-defined]
DETECTOR_STATE: Table = DetectorStateRow.__table__  # type: ignore[attr-defined]
ACTIVE = (IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    brand: str
    type: str
    severity: str
    status: str
    title: str
    summary: str
    trigger: str
    first_mention_at: datetime
    opened_at: datetime
    last_mention_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    mention_count: int
    max_followers: int
    total_reach: int
    top_authors: list[dict[str, Any]]
    merged_into: int | None
    acknowledged_by: str
    acknowledged_at: datetime | None
    closed_by: str
    sources: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    # From the saved profile: the story's words, how it grew, and the evidence for its type.
    themes: list[str] = field(default_factory=list)
    growth: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, float] = field(default_factory=dict)
    # Crisis mode: "", "auto", "on" or "released" (see `listener.incidents.holds`).
    outreach_hold: str = ""

    @property
    def outreach_held(self) -> bool:
        """Does it hold its authors' replies now (active, and held by the rule or a person)?"""
        return holds_outreach(self.outreach_hold, self.status)

    @property
    def detection_delay_seconds(self) -> float:
        return (self.opened_at - self.first_mention_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "brand": self.brand,
            "type": self.type,
            "type_label": incident_kind(self.type).label,
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "themes": self.themes,
            "growth": self.growth,
            "type_evidence": self.evidence,
            "first_mention_at": self.first_mention_at.isoformat(),
            "opened_at": self.opened_at.isoformat(),
            "last_mention_at": self.last_mention_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "mention_count": self.mention_count,
            "max_followers": self.max_followers,
            "total_reach": self.total_reach,
            "top_authors": self.top_authors,
            "sources": self.sources,
            "summary": self.summary,
            "trigger": self.trigger,
            "merged_into": self.merged_into,
            "acknowledged_by": self.acknowledged_by or None,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "closed_by": self.closed_by or None,
            "outreach_hold": self.outreach_hold or None,
            "outreach_held": self.outreach_held,
        }


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """One incident with what its page shows: mentions, timeline, amplifiers, held replies."""

    incident: Incident
    mention_ids: list[int]
    timeline: list[dict[str, Any]]
    amplifiers: list[dict[str, Any]]
    # Replies held under it (id, mention_id, author, recipient, channel, text, reason ...).
    held_drafts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.incident.as_dict(),
            "mention_ids": self.mention_ids,
            "timeline": self.timeline,
            "amplifiers": self.amplifiers,
            "samples": self.incident.samples,
            "held_drafts": self.held_drafts,
        }


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    brand: str | None = None
    status: Sequence[str] = ()
    active_only: bool = False
    since: datetime | None = None
    until: datetime | None = None


def _incident(row: Any) -> Incident:
    profile = row.profile or {}
    return Incident(
        id=row.id,
        brand=row.brand,
        type=row.type,
        severity=row.severity,
        status=row.status,
        title=row.title,
        summary=row.summary,
        trigger=row.trigger,
        first_mention_at=row.first_mention_at,
        opened_at=row.opened_at,
        last_mention_at=row.last_mention_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        mention_count=row.mention_count,
        max_followers=row.max_followers,
        total_reach=row.total_reach,
        top_authors=list(row.top_authors or []),
        merged_into=row.merged_into,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        closed_by=row.closed_by,
        sources=dict(profile.get("sources", {})),
        samples=list(profile.get("samples", [])),
        themes=[t for t, _ in ranked(dict(profile.get("terms", {})), 6)],
        growth=list(profile.get("growth", [])),
        evidence={str(k): float(v) for k, v in dict(profile.get("evidence", {})).items()},
        outreach_hold=row.outreach_hold or "",
    )


# detector state ---------------------------------------------------------------------------

# The queries of the per-batch detection step, built once: building a Core statement costs more
# than running it on a small batch.
_STATE_VERSION = (
    select(DETECTOR_STATE.c.updated_at)
    .where(DETECTOR_STATE.c.brand == bindparam("b_brand"))
    .with_for_update()  # rendered on PostgreSQL only; SQLite's write lock covers the database
)
_STATE = select(DETECTOR_STATE.c.state).where(DETECTOR_STATE.c.brand == bindparam("b_brand"))
_SAVE_STATE = update(DETECTOR_STATE).where(DETECTOR_STATE.c.brand == bindparam("b_brand"))
_MISSED = (
    select(MENTION.c.id)
    .where(
        MENTION.c.brand == bindparam("b_brand"),
        MENTION.c.id > bindparam("b_after"),
        MENTION.c.id < bindparam("b_below"),
    )
    .order_by(MENTION.c.id.desc())
    .limit(bindparam("b_limit"))
)
_ACTIVE = (
    select(
        INCIDENT.c.id,
        INCIDENT.c.profile,
        INCIDENT.c.severity,
        INCIDENT.c.opened_at,
        INCIDENT.c.trigger,
    )
    .where(INCIDENT.c.brand == bindparam("b_brand"), INCIDENT.c.status.in_(ACTIVE))
    .order_by(INCIDENT.c.id)
)
_UPDATE_DETECTED = update(INCIDENT).where(INCIDENT.c.id == bindparam("b_id"))
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class LockedState:
    """A brand's detector state row, locked for the transaction.

    `version` is the row's `updated_at`, which every save moves strictly forward, so an equal
    version means the state is exactly the one saved then. `state` is None when the caller's
    known version is still current (nothing was read) or when the brand has no state yet.
    """

    version: datetime
    state: dict[str, Any] | None
    current: bool


def lock_brand_state(
    conn: Connection, brand: str, at: datetime, known: datetime | None = None
) -> LockedState:
    """Lock the brand's state row (creating it empty); read the state unless `known` is current."""
    version = conn.execute(_STATE_VERSION, {"b_brand": brand}).scalar()
    if version is None:
        conn.execute(
            upsert_ignore(conn, DETECTOR_STATE), [{"brand": brand, "state": {}, "updated_at": at}]
        )
        version = conn.execute(_STATE_VERSION, {"b_brand": brand}).scalar_one()
    if known is not None and version == known:
        return LockedState(version, None, True)
    state = conn.execute(_STATE, {"b_brand": brand}).scalar()
    return LockedState(version, dict(state) if state else None, False)


def lock_state(conn: Connection, brand: str, at: datetime) -> dict[str, Any] | None:
    """The brand's detector state, locked for this transaction (FOR UPDATE on PostgreSQL)."""
    return lock_brand_state(conn, brand, at).state


def save_state(
    conn: Connection,
    brand: str,
    state: dict[str, Any],
    at: datetime,
    previous: datetime | None = None,
) -> datetime:
    """Write the state (row locked by `lock_brand_state`); returns its new version.

    The version (`updated_at`) is `at`, or just after `previous` when the clock has not moved
    past it (two batches in the same instant, a replay clock, another instance's clock behind):
    it must change on every save for the version check to be sound.
    """
    version = at if previous is None or at > previous else previous + _TICK
    conn.execute(_SAVE_STATE, {"b_brand": brand, "state": state, "updated_at": version})
    return version


def missed_mentions(
    conn: Connection,
    brand: str,
    after_id: int,
    batch: Sequence[StoredMention],
    limit: int = 10_000,
) -> list[StoredMention]:
    """The brand's stored mentions newer than the state but older than this batch."""
    if not batch:
        return []
    below = min(s.id for s in batch)
    if below <= after_id + 1:
        return []
    ids = [
        int(r[0])
        for r in conn.execute(
            _MISSED, {"b_brand": brand, "b_after": after_id, "b_below": below, "b_limit": limit}
        )
    ]
    if not ids:
        return []
    found = mentions_by_ids(conn, ids)
    return [found[i] for i in sorted(found)]


# incidents as detection sees them ----------------------------------------------------------


def active_incidents(conn: Connection, brand: str) -> list[ActiveIncident]:
    rows = conn.execute(_ACTIVE, {"b_brand": brand}).all()
    return [
        ActiveIncident(
            id=row.id,
            profile=IncidentProfile.from_json(row.profile),
            severity=Severity(row.severity),
            opened_at=row.opened_at,
            trigger=row.trigger,
        )
        for row in rows
    ]


def save_detected(conn: Connection, incident: ActiveIncident, now: datetime) -> int:
    """Insert a newly opened incident or update one that gained mentions; link the mentions.

    Returns the incident's id (set on `incident` too); `get` reads the saved row when needed.
    """
    profile = incident.profile
    values = {
        "type": profile.type.value,
        "severity": incident.severity.value,
        "title": title(profile),
        "summary": summary(profile),
        "first_mention_at": profile.first_at,
        "last_mention_at": profile.last_at,
        "updated_at": now,
        "mention_count": profile.mention_count,
        "max_followers": profile.max_followers,
        "total_reach": profile.total_reach,
        "top_authors": profile.top_authors(10),
        "profile": profile.as_json(),
    }
    if incident.id is None:
        new_id = conn.execute(
            insert(INCIDENT).returning(INCIDENT.c.id),
            [
                {
                    **values,
                    "brand": profile.brand,
                    "status": IncidentStatus.OPEN.value,
                    "trigger": incident.trigger[:400],
                    "opened_at": incident.opened_at,
                    "acknowledged_by": "",
                    "closed_by": "",
                }
            ],
        ).scalar_one()
        incident.id = int(new_id)
        add_event(
            conn,
            incident.id,
            now,
            "listener",
            "opened",
            {"trigger": incident.trigger, "severity": incident.severity.value},
        )
    else:
        conn.execute(_UPDATE_DETECTED, {"b_id": incident.id, **values})
        for old, new in incident.escalations:
            add_event(
                conn,
                incident.id,
                now,
                "listener",
                "escalated",
                {"from": old.value, "to": new.value},
            )
    if incident.joined:
        insert_rows(
            conn,
            INCIDENT_MENTION,
            [
                {"incident_id": incident.id, "mention_id": m, "joined_at": now}
                for m in incident.joined
            ],
            ignore_conflicts=True,
        )
    return incident.id


def add_event(
    conn: Connection,
    incident_id: int,
    at: datetime,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(INCIDENT_EVENT),
        [
            {
                "incident_id": incident_id,
                "at": at,
                "actor": actor,
                "action": action,
                "detail": detail or {},
            }
        ],
    )


def quiet_ids(conn: Connection, now: datetime, quiet_after: Any) -> list[int]:
    """Active incidents with no new mention for `quiet_after` (read-only check)."""
    rows = conn.execute(
        select(INCIDENT.c.id).where(
            INCIDENT.c.status.in_(ACTIVE), INCIDENT.c.last_mention_at < now - quiet_after
        )
    )
    return [int(r[0]) for r in rows]


def resolve_quiet(conn: Connection, now: datetime, quiet_after: Any) -> list[int]:
    """Resolve active incidents with no new mention for `quiet_after`; returns their ids."""
    rows = conn.execute(
        select(INCIDENT.c.id).where(
            INCIDENT.c.status.in_(ACTIVE), INCIDENT.c.last_mention_at < now - quiet_after
        )
    ).all()
    resolved = []
    for row in rows:
        done = conn.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == row.id, INCIDENT.c.status.in_(ACTIVE))
            .values(status=IncidentStatus.RESOLVED.value, resolved_at=now, updated_at=now)
        ).rowcount
        if done:
            add_event(conn, row.id, now, "listener", "resolved", {"reason": "quiet"})
            resolved.append(row.id)
    return resolved


# reading ------------------------------------------------------------------------------------


def get(conn: Connection, incident_id: int) -> Incident:
    row = conn.execute(select(INCIDENT).where(INCIDENT.c.id == incident_id)).first()
    if row is None:
        raise NotFound(f"there is no incident {incident_id}")
    return _incident(row)


def list_incidents(
    conn: Connection, f: IncidentFilter | None = None, *, limit: int = 200, offset: int = 0
) -> list[Incident]:
    """Incidents, active first, then most severe, then newest."""
    f = f or IncidentFilter()
    query = select(INCIDENT)
    if f.brand:
        query = query.where(INCIDENT.c.brand == f.brand)
    if f.status:
        query = query.where(INCIDENT.c.status.in_(list(f.status)))
    if f.active_only:
        query = query.where(INCIDENT.c.status.in_(ACTIVE))
    if f.since is not None:
        query = query.where(INCIDENT.c.opened_at >= f.since)
    if f.until is not None:
        query = query.where(INCIDENT.c.opened_at < f.until)
    rows = conn.execute(query.order_by(INCIDENT.c.opened_at.desc(), INCIDENT.c.id.desc())).all()
    incidents = [_incident(r) for r in rows]
    incidents.sort(
        key=lambda i: (
            i.status not in ACTIVE,
            -Severity(i.severity).level if i.status in ACTIVE else 0,
        )
    )
    return incidents[offset : offset + limit]


def mention_ids_query(incident_id: int) -> Select[Any]:
    """A subquery of the incident's mention ids, for filtering mention lists in SQL."""
    return select(INCIDENT_MENTION.c.mention_id).where(
        INCIDENT_MENTION.c.incident_id == incident_id
    )


def mention_ids(conn: Connection, incident_id: int) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute(
            mention_ids_query(incident_id).order_by(INCIDENT_MENTION.c.mention_id)
        )
    ]


def mentions_before(conn: Connection, incident_id: int, moment: datetime) -> int:
    """How many of the incident's mentions were published at or before `moment`."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(
                INCIDENT_MENTION.join(MENTION, MENTION.c.id == INCIDENT_MENTION.c.mention_id)
            )
            .where(INCIDENT_MENTION.c.incident_id == incident_id, MENTION.c.published_at <= moment)
        ).scalar_one()
    )


def mention_times(conn: Connection, incident_id: int) -> list[datetime]:
    rows = conn.execute(
        select(MENTION.c.published_at)
        .select_from(INCIDENT_MENTION.join(MENTION, MENTION.c.id == INCIDENT_MENTION.c.mention_id))
        .where(INCIDENT_MENTION.c.incident_id == incident_id)
    )
    return [r[0] for r in rows]


def timeline(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(INCIDENT_EVENT)
        .where(INCIDENT_EVENT.c.incident_id == incident_id)
        .order_by(INCIDENT_EVENT.c.at, INCIDENT_EVENT.c.id)
    ).all()
    return [
        {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "detail": r.detail or {}}
        for r in rows
    ]


def amplifiers(conn: Connection, incident_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Authors of the incident's mentions ranked by reach (followers), with their post count.

    `followers` is None (and `reach_known` false) when no post of the author said how many
    followers they have: unknown is not zero.
    """
    rows = conn.execute(
        select(
            MENTION.c.author,
            func.max(MENTION.c.author_followers).label("followers"),
            func.count().label("posts"),
            func.min(MENTION.c.source).label("source"),
        )
        .select_from(INCIDENT_MENTION.join(MENTION, MENTION.c.id == INCIDENT_MENTION.c.mention_id))
        .where(INCIDENT_MENTION.c.incident_id == incident_id, MENTION.c.author != "")
        .group_by(MENTION.c.author)
        .order_by(func.max(func.coalesce(MENTION.c.author_followers, 0)).desc(), MENTION.c.author)
        .limit(limit)
    ).all()
    return [
        {
            "author": r.author,
            "followers": int(r.followers) if r.followers is not None else None,
            "reach_known": r.followers is not None,
            "posts": int(r.posts),
            "source": r.source,
        }
        for r in rows
    ]


def get_incident(conn: Connection, incident_id: int) -> IncidentDetail:
    incident = get(conn, incident_id)
    return IncidentDetail(
        incident=incident,
        mention_ids=mention_ids(conn, incident_id),
        timeline=timeline(conn, incident_id),
        amplifiers=amplifiers(conn, incident_id),
    )


# operator actions -----------------------------------------------------------------------------


def acknowledge(conn: Connection, incident_id: int, *, actor: str, at: datetime) -> Incident:
    before = get(conn, incident_id)
    if before.status != IncidentStatus.OPEN.value:
        raise InvalidTransition(
            f"incident {incident_id} is {before.status}; only an open incident can be acknowledged"
        )
    _set_status(
        conn,
        before,
        IncidentStatus.ACKNOWLEDGED,
        actor,
        at,
        "acknowledged",
        acknowledged_by=actor,
        acknowledged_at=at,
    )
    return get(conn, incident_id)


def close(
    conn: Connection, incident_id: int, *, actor: str, at: datetime, reason: str = ""
) -> Incident:
    before = get(conn, incident_id)
    if before.status not in ACTIVE and before.status != IncidentStatus.RESOLVED.value:
        raise InvalidTransition(f"incident {incident_id} is already {before.status}")
    _set_status(
        conn,
        before,
        IncidentStatus.CLOSED,
        actor,
        at,
        "closed",
        detail={"reason": reason},
        closed_by=actor,
        resolved_at=before.resolved_at or at,
    )
    return get(conn, incident_id)


def merge(
    conn: Connection, incident_id: int, into_id: int, *, actor: str, at: datetime
) -> Incident:
    """Move an incident's mentions into another of the same brand; the first becomes `merged`."""
    if incident_id == into_id:
        raise InvalidTransition("an incident cannot be merged into itself")
    source = get(conn, incident_id)
    target = get(conn, into_id)
    if source.brand != target.brand:
        raise InvalidTransition(
            f"incident {incident_id} is about {source.brand} and {into_id} about {target.brand}; "
            "only incidents of the same brand can be merged"
        )
    if source.status == IncidentStatus.MERGED.value:
        raise InvalidTransition(
            f"incident {incident_id} was already merged into {source.merged_into}"
        )
    if target.status == IncidentStatus.MERGED.value:
        raise InvalidTransition(
            f"incident {into_id} was merged into {target.merged_into}; merge into that one"
        )
    src_row = conn.execute(select(INCIDENT.c.profile).where(INCIDENT.c.id == incident_id)).one()
    dst_row = conn.execute(select(INCIDENT.c.profile).where(INCIDENT.c.id == into_id)).one()
    merged = IncidentProfile.from_json(dst_row.profile)
    merged.merge(IncidentProfile.from_json(src_row.profile))
    conn.execute(
        update(INCIDENT_MENTION)
        .where(INCIDENT_MENTION.c.incident_id == incident_id)
        .values(incident_id=into_id)
    )
    count = len(mention_ids(conn, into_id))
    merged.mention_count = count
    conn.execute(
        update(INCIDENT)
        .where(INCIDENT.c.id == into_id)
        .values(
            profile=merged.as_json(),
            type=merged.type.value,
            title=title(merged),
            summary=summary(merged),
            mention_count=count,
            first_mention_at=merged.first_at,
            last_mention_at=merged.last_at,
            max_followers=merged.max_followers,
            total_reach=merged.total_reach,
            top_authors=merged.top_authors(10),
            updated_at=at,
        )
    )
    _set_status(
        conn,
        source,
        IncidentStatus.MERGED,
        actor,
        at,
        "merged",
        detail={"into": into_id},
        merged_into=into_id,
    )
    add_event(conn, into_id, at, actor, "absorbed", {"from": incident_id})
    return get(conn, into_id)


def _set_status(
    conn: Connection,
    before: Incident,
    status: IncidentStatus,
    actor: str,
    at: datetime,
    action: str,
    *,
    detail: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    done = conn.execute(
        update(INCIDENT)
        .where(INCIDENT.c.id == before.id, INCIDENT.c.status == before.status)
        .values(status=status.value, updated_at=at, **extra)
    ).rowcount
    if not done:
        raise InvalidTransition(f"incident {before.id} changed meanwhile; reload and try again")
    add_event(conn, before.id, at, actor, action, detail)
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=f"incident.{action}",
        entity="incident",
        entity_id=str(before.id),
        before={"status": before.status},
        after={"status": status.value, **(detail or {})},
    )
