"""The alert outbox: alerts written in the transaction that decides them, delivered later.

`enqueue_alert` records one alert under a unique `dedupe_key` (enqueueing it again does
nothing). The dispatcher then routes each new alert to its channels (one delivery row per
channel) and claims deliveries with a compare-and-set from `pending` to `sending`
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock serialises claimers), so two
dispatchers never send the same delivery. A delivery stuck in `sending` (its dispatcher died)
is put back to `pending` after `stuck_after`: it may then be sent twice, which receivers
absorb because every message carries the alert id as its idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, select, update

from listener.store.bulk import upsert_ignore
from listener.store.incident_tables import AlertDeliveryRow, AlertRow

ALERT: Table = AlertRow.__table__  # type: ignore[attr-defined]
DELIVERY: Table = AlertDeliveryRow.__table__  # type: ignore[attr-defined]

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    incident_id: int | None
    brand: str
    severity: str
    title: str
    body: dict[str, Any]
    dedupe_key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert on its way to one channel, with the alert it carries."""

    id: int
    alert: Alert
    channel: str
    status: str
    cooldown_key: str
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: int
    claimed_by: str
    claimed_at: datetime | None
    sent_at: datetime | None
    hold_reason: str
    last_error: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert_id": self.alert.id,
            "incident_id": self.alert.incident_id,
            "channel": self.channel,
            "kind": self.alert.kind,
            "brand": self.alert.brand,
            "severity": self.alert.severity,
            "title": self.alert.title,
            "created_at": self.alert.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "hold_reason": self.hold_reason or None,
            "last_error": self.last_error or None,
        }


def enqueue_alert(
    conn: Connection,
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
    """Record an alert for the responders, once per `dedupe_key`; returns its id if new.

    Call it inside the transaction that makes the alert true (an incident opening, a source
    turning unhealthy, an SLA breach): either both are saved or neither. `body` is plain data
    (JSON); it is never rendered as a template. `severity` is low, medium, high or critical.
    """
    row = conn.execute(
        upsert_ignore(conn, ALERT).returning(ALERT.c.id),
        [
            {
                "kind": kind[:60],
                "incident_id": incident_id,
                "brand": brand[:200],
                "severity": severity,
                "title": title[:400],
                "body": body,
                "dedupe_key": dedupe_key[:400],
                "created_at": at,
                "routed_at": None,
            }
        ],
    ).first()
    return int(row.id) if row is not None else None


def _alert(row: Any) -> Alert:
    return Alert(
        id=row.alert_id if hasattr(row, "alert_id") and row.alert_id is not None else row.id,
        kind=row.kind,
        incident_id=row.incident_id,
        brand=row.brand,
        severity=row.severity,
        title=row.title,
        body=dict(row.body or {}),
        dedupe_key=row.dedupe_key,
        created_at=row.created_at,
    )


def has_work(conn: Connection, now: datetime, stuck_after: timedelta) -> bool:
    """Anything to route, send or recover? A cheap read, so an idle dispatcher takes no lock."""
    checks = [
        select(ALERT.c.id).where(ALERT.c.routed_at.is_(None)).limit(1),
        select(DELIVERY.c.id)
        .where(
            DELIVERY.c.status == PENDING,
            (DELIVERY.c.next_attempt_at.is_(None)) | (DELIVERY.c.next_attempt_at <= now),
        )
        .limit(1),
        select(DELIVERY.c.id)
        .where(DELIVERY.c.status == SENDING, DELIVERY.c.claimed_at < now - stuck_after)
        .limit(1),
    ]
    return any(conn.execute(check).first() is not None for check in checks)


def unrouted(conn: Connection, limit: int = 200) -> list[Alert]:
    rows = conn.execute(
        select(ALERT).where(ALERT.c.routed_at.is_(None)).order_by(ALERT.c.id).limit(limit)
    ).all()
    return [_alert(r) for r in rows]


def route(conn: Connection, alert: Alert, channels: Sequence[str], at: datetime) -> None:
    """Create the alert's deliveries (one per channel) and mark it routed, idempotently."""
    if channels:
        cooldown_key = (
            f"incident:{alert.incident_id}"
            if alert.incident_id is not None
            else f"{alert.kind}:{alert.brand}"
        )
        conn.execute(
            upsert_ignore(conn, DELIVERY),
            [
                {
                    "alert_id": alert.id,
                    "channel": channel,
                    "status": PENDING,
                    "cooldown_key": cooldown_key[:400],
                    "created_at": at,
                    "next_attempt_at": None,
                    "attempts": 0,
                    "claimed_by": "",
                    "claimed_at": None,
                    "sent_at": None,
                    "hold_reason": "",
                    "last_error": "",
                }
                for channel in channels
            ],
        )
    conn.execute(update(ALERT).where(ALERT.c.id == alert.id).values(routed_at=at))


_DELIVERY_COLUMNS = [
    DELIVERY.c.id.label("delivery_id"),
    DELIVERY.c.alert_id,
    DELIVERY.c.channel,
    DELIVERY.c.status,
    DELIVERY.c.cooldown_key,
    DELIVERY.c.created_at.label("delivery_created_at"),
    DELIVERY.c.next_attempt_at,
    DELIVERY.c.attempts,
    DELIVERY.c.claimed_by,
    DELIVERY.c.claimed_at,
    DELIVERY.c.sent_at,
    DELIVERY.c.hold_reason,
    DELIVERY.c.last_error,
    ALERT.c.kind,
    ALERT.c.incident_id,
    ALERT.c.brand,
    ALERT.c.severity,
    ALERT.c.title,
    ALERT.c.body,
    ALERT.c.dedupe_key,
    ALERT.c.created_at,
]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.delivery_id,
        alert=_alert(row),
        channel=row.channel,
        status=row.status,
        cooldown_key=row.cooldown_key,
        created_at=row.delivery_created_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        sent_at=row.sent_at,
        hold_reason=row.hold_reason,
        last_error=row.last_error,
    )


def _joined() -> Any:
    return select(*_DELIVERY_COLUMNS).select_from(
        DELIVERY.join(ALERT, ALERT.c.id == DELIVERY.c.alert_id)
    )


def due(conn: Connection, now: datetime, limit: int) -> list[Delivery]:
    """Pending deliveries whose time has come, oldest first, locked against other claimers."""
    query = (
        _joined()
        .where(
            DELIVERY.c.status == PENDING,
            (DELIVERY.c.next_attempt_at.is_(None)) | (DELIVERY.c.next_attempt_at <= now),
        )
        .order_by(DELIVERY.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=DELIVERY)
    return [_delivery(r) for r in conn.execute(query).all()]


def claim(conn: Connection, delivery_id: int, owner: str, at: datetime) -> bool:
    """pending → sending, only if still pending: the compare-and-set that makes one sender."""
    done = conn.execute(
        update(DELIVERY)
        .where(DELIVERY.c.id == delivery_id, DELIVERY.c.status == PENDING)
        .values(status=SENDING, claimed_by=owner, claimed_at=at, hold_reason="")
    ).rowcount
    return bool(done)


def hold(conn: Connection, delivery_id: int, until: datetime, reason: str) -> None:
    conn.execute(
        update(DELIVERY)
        .where(DELIVERY.c.id == delivery_id, DELIVERY.c.status == PENDING)
        .values(next_attempt_at=until, hold_reason=reason[:400])
    )


def supersede(conn: Connection, delivery_id: int, by_alert: int) -> None:
    conn.execute(
        update(DELIVERY)
        .where(DELIVERY.c.id == delivery_id, DELIVERY.c.status == PENDING)
        .values(status=SUPERSEDED, hold_reason=f"replaced by alert {by_alert}")
    )


def mark_sent(conn: Connection, delivery_id: int, owner: str, at: datetime) -> bool:
    """sending → sent for the claimer only; False if someone else took it meanwhile."""
    done = conn.execute(
        update(DELIVERY)
        .where(
            DELIVERY.c.id == delivery_id,
            DELIVERY.c.status == SENDING,
            DELIVERY.c.claimed_by == owner,
        )
        .values(status=SENT, sent_at=at, attempts=DELIVERY.c.attempts + 1, last_error="")
    ).rowcount
    return bool(done)


def mark_retry(
    conn: Connection, delivery_id: int, owner: str, error: str, retry_at: datetime
) -> None:
    conn.execute(
        update(DELIVERY)
        .where(
            DELIVERY.c.id == delivery_id,
            DELIVERY.c.status == SENDING,
            DELIVERY.c.claimed_by == owner,
        )
        .values(
            status=PENDING,
            attempts=DELIVERY.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=retry_at,
            hold_reason="retrying after a failed attempt",
            claimed_by="",
        )
    )


def mark_failed(conn: Connection, delivery_id: int, owner: str, error: str, at: datetime) -> None:
    conn.execute(
        update(DELIVERY)
        .where(
            DELIVERY.c.id == delivery_id,
            DELIVERY.c.status == SENDING,
            DELIVERY.c.claimed_by == owner,
        )
        .values(status=FAILED, attempts=DELIVERY.c.attempts + 1, last_error=error[:2000])
    )


def recover_stuck(conn: Connection, now: datetime, stuck_after: timedelta) -> int:
    """Put deliveries claimed longer than `stuck_after` ago back to pending (their sender died)."""
    return int(
        conn.execute(
            update(DELIVERY)
            .where(DELIVERY.c.status == SENDING, DELIVERY.c.claimed_at < now - stuck_after)
            .values(
                status=PENDING,
                claimed_by="",
                hold_reason="its dispatcher stopped before confirming; sent again",
            )
        ).rowcount
    )


def last_sent(conn: Connection, channel: str, cooldown_key: str) -> datetime | None:
    row = conn.execute(
        select(DELIVERY.c.sent_at)
        .where(
            DELIVERY.c.channel == channel,
            DELIVERY.c.cooldown_key == cooldown_key,
            DELIVERY.c.status == SENT,
        )
        .order_by(DELIVERY.c.sent_at.desc())
        .limit(1)
    ).first()
    return row.sent_at if row is not None else None


def newer_pending(conn: Connection, delivery: Delivery) -> int | None:
    """A later pending escalation for the same incident and channel, if any."""
    row = conn.execute(
        select(DELIVERY.c.alert_id)
        .where(
            DELIVERY.c.channel == delivery.channel,
            DELIVERY.c.cooldown_key == delivery.cooldown_key,
            DELIVERY.c.status == PENDING,
            DELIVERY.c.id > delivery.id,
        )
        .order_by(DELIVERY.c.id.desc())
        .limit(1)
    ).first()
    return int(row.alert_id) if row is not None else None


def list_deliveries(
    conn: Connection,
    *,
    status: str | None = None,
    incident_id: int | None = None,
    limit: int = 500,
) -> list[Delivery]:
    query = _joined()
    if status:
        query = query.where(DELIVERY.c.status == status)
    if incident_id is not None:
        query = query.where(ALERT.c.incident_id == incident_id)
    rows = conn.execute(query.order_by(DELIVERY.c.id).limit(limit)).all()
    return [_delivery(r) for r in rows]


def get_delivery(conn: Connection, delivery_id: int) -> Delivery | None:
    row = conn.execute(_joined().where(DELIVERY.c.id == delivery_id)).first()
    return _delivery(row) if row is not None else None


def alert_ids(conn: Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute(select(ALERT.c.id).order_by(ALERT.c.id))]
