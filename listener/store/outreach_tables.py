"""Tables of outreach after approval: do-not-contact list, complaint cases, the send log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from listener.store.tables import _dt


class DoNotContactRow(SQLModel, table=True):
    """An author who asked not to be contacted by a brand; removed only by a person."""

    __tablename__ = "do_not_contact"
    __table_args__ = (UniqueConstraint("brand", "author", name="uq_do_not_contact_brand_author"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200)
    author: str = Field(max_length=400)
    reason: str = Field(default="", max_length=2000)
    mention_id: int | None = None
    created_at: datetime = _dt(nullable=False)
    created_by: str = Field(max_length=200)


class CaseRow(SQLModel, table=True):
    """One dissatisfied author's complaint to one brand, from first mention to resolution.

    `open_slot` is "open" while the case is open and "closed:<id>" afterwards, so the unique
    (brand, author, open_slot) lets two instances race to open a case and still make one.
    """

    __tablename__ = "complaint_case"
    __table_args__ = (
        UniqueConstraint("brand", "author", "open_slot", name="uq_complaint_case_open"),
        Index("ix_complaint_case_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200)
    author: str = Field(max_length=400)
    author_email: str = Field(default="", max_length=400)
    status: str = Field(max_length=40)
    open_slot: str = Field(default="open", max_length=40)
    owner: str = Field(default="", max_length=200)
    root_cause: str = Field(default="", max_length=60)
    notes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    opened_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    first_response_at: datetime | None = _dt()
    resolved_at: datetime | None = _dt()
    sla_breach_alerted_at: datetime | None = _dt()


class CaseMentionRow(SQLModel, table=True):
    """A mention that belongs to a case (each mention to at most one case)."""

    __tablename__ = "case_mention"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_case.id", index=True, ondelete="CASCADE")
    mention_id: int = Field(foreign_key="mention.id", unique=True, ondelete="CASCADE")
    linked_at: datetime = _dt(nullable=False)


class SendLogRow(SQLModel, table=True):
    """Each message claimed for sending: what frequency caps and send rates count."""

    __tablename__ = "send_log"
    __table_args__ = (
        Index("ix_send_log_brand_author_at", "brand", "author", "at"),
        Index("ix_send_log_channel_at", "channel", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True, ondelete="CASCADE")
    brand: str = Field(max_length=200)
    author: str = Field(max_length=400)
    channel: str = Field(max_length=20)
    at: datetime = _dt(nullable=False)
