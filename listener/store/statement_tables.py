"""Tables of crisis mode: an incident's holding statements, one per channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from listener.store.tables import _dt


class StatementRow(SQLModel, table=True):
    """A holding statement: one post from the brand about an incident, on one channel.

    `live_slot` is "live" until the statement is cancelled and "cancelled:<id>" afterwards, so
    the unique (incident_id, channel, live_slot) allows one statement per channel that is not
    cancelled: two people drafting at once still make one, and a posted one is never redrafted.
    """

    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("incident_id", "channel", "live_slot", name="uq_statement_channel"),
        Index("ix_statement_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    brand: str = Field(max_length=200)
    channel: str = Field(max_length=20)
    live_slot: str = Field(default="live", max_length=40)
    template: str = Field(default="", max_length=200)
    text: str = ""
    status: str = Field(max_length=20)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_by: str = Field(default="", max_length=200)
    edited_by: str = Field(default="", max_length=200)
    first_approved_by: str = Field(default="", max_length=200)
    approved_by: str = Field(default="", max_length=200)
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    # Sending, as the draft outbox does it: claimed (committed) before the platform is called.
    claimed_by: str = Field(default="", max_length=200)
    claimed_at: datetime | None = _dt()
    attempts: int = 0
    next_attempt_at: datetime | None = _dt()
    hold_reason: str = Field(default="", max_length=2000)
    posted_at: datetime | None = _dt()
    platform_id: str = Field(default="", max_length=400)
    url: str = Field(default="", max_length=2000)
    error: str = Field(default="", max_length=4000)
    needs_check: bool = False
