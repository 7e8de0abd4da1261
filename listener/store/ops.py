"""What operators ask the database: is it there and at the right schema, and how deep are
the queues. Every query here is small and indexed, because a scraper or a load balancer asks
every few seconds: counts are limited to statuses that are still moving (a queue, not the
archive), and ages come from one `MIN` each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select, text

from listener.domain import DraftStatus
from listener.incidents.model import IncidentStatus
from listener.outreach.review import ReviewAction
from listener.store import alerts
from listener.store.engine import MIGRATIONS
from listener.store.incidents import INCIDENT
from listener.store.mentions import DRAFT, DRAFT_EVENT
from listener.store.sources import SOURCE

# Draft statuses that make up the work queue; sent, rejected and cancelled drafts are history.
QUEUE_STATUSES = (
    DraftStatus.PENDING.value,
    DraftStatus.SNOOZED.value,
    DraftStatus.APPROVED.value,
    DraftStatus.HELD.value,
    DraftStatus.SENDING.value,
    DraftStatus.FAILED.value,
)
ACTIVE_INCIDENTS = (IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The migration the database is at, against the newest this code knows."""

    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.head)


@dataclass(frozen=True, slots=True)
class SourceProgress:
    """A source's polling record, from its own row only (no mention counts)."""

    name: str
    last_polled_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    disabled_reason: str


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The moving parts of the database at one moment."""

    drafts_by_status: dict[str, int]
    incidents: dict[tuple[str, str], int]  # (status, severity) -> active incidents
    oldest_alert_waiting: datetime | None  # created_at of the oldest undelivered alert
    oldest_reply_waiting: datetime | None  # approval time of the oldest approved, unsent reply
    sources: list[SourceProgress]


@cache
def head_revisions(location: Path = MIGRATIONS) -> tuple[str, ...]:
    """The newest migration(s) shipped with this code, read once from the scripts."""
    config = Config()
    config.set_main_option("script_location", str(location))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def schema_state(conn: Connection) -> SchemaState:
    """Where the database's schema is (`SELECT 1` first: reachable at all)."""
    conn.execute(text("SELECT 1"))
    rows = conn.execute(text("SELECT version_num FROM alembic_version"))
    current = tuple(sorted(str(r[0]) for r in rows))
    return SchemaState(current=current, head=head_revisions())


def queue_snapshot(conn: Connection) -> QueueSnapshot:
    drafts = {
        str(status): int(count)
        for status, count in conn.execute(
            select(DRAFT.c.status, func.count())
            .where(DRAFT.c.status.in_(QUEUE_STATUSES))
            .group_by(DRAFT.c.status)
        )
    }
    incidents = {
        (str(status), str(severity)): int(count)
        for status, severity, count in conn.execute(
            select(INCIDENT.c.status, INCIDENT.c.severity, func.count())
            .where(INCIDENT.c.status.in_(ACTIVE_INCIDENTS))
            .group_by(INCIDENT.c.status, INCIDENT.c.severity)
        )
    }
    waiting_delivery = conn.execute(
        select(func.min(alerts.DELIVERY.c.created_at)).where(
            alerts.DELIVERY.c.status.in_([alerts.PENDING, alerts.SENDING])
        )
    ).scalar_one_or_none()
    unrouted = conn.execute(
        select(func.min(alerts.ALERT.c.created_at)).where(alerts.ALERT.c.routed_at.is_(None))
    ).scalar_one_or_none()
    approvals = (
        select(func.max(DRAFT_EVENT.c.at).label("approved_at"))
        .join(DRAFT, DRAFT.c.id == DRAFT_EVENT.c.draft_id)
        .where(
            DRAFT.c.status.in_([DraftStatus.APPROVED.value, DraftStatus.SENDING.value]),
            DRAFT_EVENT.c.action == ReviewAction.APPROVE.value,
        )
        .group_by(DRAFT_EVENT.c.draft_id)
        .subquery()
    )
    oldest_reply = conn.execute(select(func.min(approvals.c.approved_at))).scalar_one_or_none()
    sources = [
        SourceProgress(
            name=r.name,
            last_polled_at=r.last_polled_at,
            last_success_at=r.last_success_at,
            consecutive_failures=int(r.consecutive_failures),
            disabled_reason=r.disabled_reason,
        )
        for r in conn.execute(
            select(
                SOURCE.c.name,
                SOURCE.c.last_polled_at,
                SOURCE.c.last_success_at,
                SOURCE.c.consecutive_failures,
                SOURCE.c.disabled_reason,
            ).order_by(SOURCE.c.name)
        )
    ]
    return QueueSnapshot(
        drafts_by_status=drafts,
        incidents=incidents,
        oldest_alert_waiting=_earliest(waiting_delivery, unrouted),
        oldest_reply_waiting=oldest_reply,
        sources=sources,
    )


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None
