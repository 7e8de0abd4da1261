"""Tables of incidents and crisis alerts: incidents, their mentions and timeline, detector
state per brand, and the alert outbox (one alert, one delivery per channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from listener.store.tables import _dt


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_brand_status", "brand", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200)
    type: str = Field(max_length=40)
    severity: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    title: str = Field(default="", max_length=400)
    summary: str = ""
    trigger: str = Field(default="", max_length=400)
    first_mention_at: datetime = _dt(nullable=False)
    opened_at: datetime = _dt(nullable=False, index=True)
    last_mention_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    resolved_at: datetime | None = _dt()
    mention_count: int = 0
    max_followers: int = 0
    total_reach: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    top_authors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    merged_into: int | None = None
    acknowledged_by: str = Field(default="", max_length=200)
    acknowledged_at: datetime | None = _dt()
    closed_by: str = Field(default="", max_length=200)
    # Crisis mode (migration 0014): "" (replies go to the queue), "auto" (held: the incident
    # reached `outreach.crisis_severity`), "on" (a person held it), "released" (a person let
    # replies go to the queue again). See `listener.incidents.holds`.
    outreach_hold: str = Field(default="", max_length=20)


class IncidentMentionRow(SQLModel, table=True):
    """A mention grouped into an incident (each mention in at most one)."""

    __tablename__ = "incident_mention"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    mention_id: int = Field(foreign_key="mention.id", unique=True, ondelete="CASCADE")
    joined_at: datetime = _dt(nullable=False)


class IncidentEventRow(SQLModel, table=True):
    """The timeline of an incident: opened, escalated, acknowledged, merged, resolved ..."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    at: datetime = _dt(nullable=False)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class DetectorStateRow(SQLModel, table=True):
    """Per-brand baselines and recent context, so detection survives restarts."""

    __tablename__ = "detector_state"

    brand: str = Field(primary_key=True, max_length=200)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: datetime = _dt(nullable=False)


class AlertRow(SQLModel, table=True):
    """One alert to crisis responders; `dedupe_key` makes enqueueing it twice a no-op."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    incident_id: int | None = Field(default=None, index=True)
    brand: str = Field(default="", max_length=200)
    severity: str = Field(max_length=20)
    title: str = Field(max_length=400)
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    dedupe_key: str = Field(max_length=400, unique=True)
    created_at: datetime = _dt(nullable=False)
    routed_at: datetime | None = _dt(index=True)


class AlertDeliveryRow(SQLModel, table=True):
    """The outbox: one alert on its way to one channel.

    pending → sending (claimed) → sent | failed; pending → superseded (a later escalation of
    the same incident replaced it while it waited for the cooldown).
    """

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", name="uq_alert_delivery_alert_channel"),
        Index("ix_alert_delivery_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=200)
    status: str = Field(max_length=20)
    cooldown_key: str = Field(default="", max_length=400)
    created_at: datetime = _dt(nullable=False)
    next_attempt_at: datetime | None = _dt()
    attempts: int = 0
    claimed_by: str = Field(default="", max_length=200)
    claimed_at: datetime | None = _dt()
    sent_at: datetime | None = _dt()
    hold_reason: str = Field(default="", max_length=400)
    last_error: str = Field(default="", max_length=2000)
