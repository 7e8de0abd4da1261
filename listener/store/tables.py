"""SQLModel tables of the foundation: brands, sources, mentions, scores, drafts, audit, labels.

Tables stay inside `listener.store`; the rest of listener sees domain records only. Other
areas (incidents, outreach, web) keep their tables in their own modules beside this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from listener.store.types import UTCDateTime


def _dt(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class BrandRow(SQLModel, table=True):
    __tablename__ = "brand"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    created_at: datetime = _dt(nullable=False)


class SourceRow(SQLModel, table=True):
    """A configured source and what it remembers between polls."""

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=40)
    target: str = Field(default="", max_length=2000)
    cursor: str = Field(default="", max_length=4000)
    etag: str = Field(default="", max_length=1000)
    last_modified: str = Field(default="", max_length=200)
    last_polled_at: datetime | None = _dt()
    last_success_at: datetime | None = _dt()
    last_error: str = Field(default="", max_length=4000)
    last_error_at: datetime | None = _dt()
    consecutive_failures: int = 0
    retry_at: datetime | None = _dt()
    mentions_total: int = 0
    disabled_reason: str = Field(default="", max_length=1000)
    lease_owner: str = Field(default="", max_length=200)
    lease_expires_at: datetime | None = _dt()
    health_alerted_at: datetime | None = _dt()


class MentionRow(SQLModel, table=True):
    """One mention, stored once per (source, external_id) however often it is seen."""

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_mention_source_external_id"),
        Index("ix_mention_brand_published", "brand", "published_at"),
        Index("ix_mention_brand_id", "brand", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    external_id: str = Field(max_length=1000)
    source_kind: str = Field(default="feed", max_length=40)
    brand: str = Field(max_length=200)
    matched_term: str = Field(default="", max_length=200)
    text: str = ""
    title: str = ""
    url: str = Field(default="", max_length=4000)
    author: str = Field(default="", max_length=400)
    author_name: str = Field(default="", max_length=400)
    author_followers: int | None = None
    author_verified: bool | None = None
    author_email: str = Field(default="", max_length=400)
    published_at: datetime = _dt(nullable=False)
    fetched_at: datetime = _dt(nullable=False)
    lang: str = Field(default="", max_length=20)
    replies: int = 0
    reposts: int = 0
    likes: int = 0
    quotes: int = 0
    in_reply_to: str = Field(default="", max_length=200)
    story_key: str = Field(default="", max_length=200, index=True)
    title_key: str = Field(default="", max_length=200, index=True)


class UnsettledBatchRow(SQLModel, table=True):
    """A stored batch whose after-store steps have not all run yet (see
    `Pipeline.settle_pending`); deleted as soon as they have."""

    __tablename__ = "unsettled_batch"

    id: int | None = Field(default=None, primary_key=True)
    stored_at: datetime = _dt(index=True, nullable=False)
    mention_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SightingRow(SQLModel, table=True):
    """Another place the same story was seen (same link or same headline, other feed)."""

    __tablename__ = "sighting"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_sighting_source_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=200)
    external_id: str = Field(max_length=1000)
    url: str = Field(default="", max_length=4000)
    author: str = Field(default="", max_length=400)
    author_followers: int | None = None
    seen_at: datetime = _dt(nullable=False)


class ScoreRow(SQLModel, table=True):
    """The score of a mention, with the signals that explain it."""

    __tablename__ = "score"

    mention_id: int = Field(foreign_key="mention.id", primary_key=True, ondelete="CASCADE")
    dissatisfaction: float
    dissatisfied: bool
    incident_risk: float
    category: str = Field(max_length=40, index=True)
    reason: str = Field(default="", max_length=40)
    signals: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    scorer: str = Field(default="", max_length=100)
    scored_at: datetime = _dt(nullable=False)


class DraftRow(SQLModel, table=True):
    """A templated reply waiting for (or past) a person's decision."""

    __tablename__ = "draft"
    __table_args__ = (
        Index("ix_draft_status_priority", "status", "priority"),
        # One routine reply per mention, and at most one crisis reply to it (migration 0015).
        UniqueConstraint("mention_id", "kind", name="uq_draft_mention_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", ondelete="CASCADE")
    brand: str = Field(max_length=200, index=True)
    channel: str = Field(max_length=20)
    template: str = Field(max_length=200)
    text: str
    original_text: str
    status: str = Field(max_length=20)
    recipient: str = Field(default="", max_length=400)
    priority: float = 0.0
    reject_reason: str = Field(default="", max_length=2000)
    edited_by: str = Field(default="", max_length=200)
    approved_by: str = Field(default="", max_length=200)
    snoozed_until: datetime | None = _dt()
    sent_at: datetime | None = _dt()
    platform_id: str = Field(default="", max_length=200)
    error: str = Field(default="", max_length=4000)
    attempts: int = 0
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    # Dispatch (outreach, migration 0006): who claimed it for sending, when to try again, why
    # it waits, and whether a person must check the platform before anything else happens.
    claimed_by: str = Field(default="", max_length=200)
    claimed_at: datetime | None = _dt()
    next_attempt_at: datetime | None = _dt()
    hold_reason: str = Field(default="", max_length=2000)
    needs_check: bool = False
    # Crisis mode (migration 0014): the incident whose outreach hold keeps this draft `held`.
    held_incident_id: int | None = Field(default=None, index=True)
    # Crisis mode (migration 0015): `routine` or `crisis`, and a crisis reply's first approver.
    kind: str = Field(default="routine", max_length=20)
    first_approved_by: str = Field(default="", max_length=200)


class DraftEventRow(SQLModel, table=True):
    """The history of a draft: created, edited, approved, rejected, sent ..."""

    __tablename__ = "draft_event"

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True, ondelete="CASCADE")
    at: datetime = _dt(nullable=False)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class AuditRow(SQLModel, table=True):
    """Append-only audit record, chained to the previous one by a hash."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _dt(nullable=False)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=60)
    entity_id: str = Field(default="", max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """Where the audit chain ends: written in the same transaction as every append.

    Deleting the newest records leaves a chain that still links up; comparing its end with
    this row is how `audit verify` notices. One row, named "chain".
    """

    __tablename__ = "audit_head"

    name: str = Field(primary_key=True, max_length=20)
    records: int = 0
    last_id: int = 0
    last_hash: str = Field(default="", max_length=64)


class LabelRow(SQLModel, table=True):
    """A person's correction of a score: training material for the next model."""

    __tablename__ = "label"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    value: str = Field(max_length=200)
    actor: str = Field(max_length=200)
    at: datetime = _dt(nullable=False)
