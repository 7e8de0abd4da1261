"""Tables of the review desk: its user accounts and the secret that signs its sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from listener.store.tables import DraftRow, MentionRow
from listener.store.types import UTCDateTime


def _dt(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WebUserRow(SQLModel, table=True):
    """A person who may sign in to the review desk; passwords and API tokens only as hashes."""

    __tablename__ = "web_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=400)
    api_token_hash: str = Field(default="", max_length=64, index=True)
    created_at: datetime = _dt(nullable=False)
    disabled: bool = False
    # Part of every session cookie; signing out (or a new password) moves it on, so a copy of
    # an old cookie no longer signs anyone in.
    session_epoch: int = 0


class WebSecretRow(SQLModel, table=True):
    """A generated secret kept in the database when the environment provides none.

    Every instance sharing the database then signs and accepts the same session cookies.
    """

    __tablename__ = "web_secret"

    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(max_length=200)
    created_at: datetime = _dt(nullable=False)


# Indexes the review desk's pages need on the foundation's tables (created in migration 0005):
# the mentions feed walks mentions newest first, and the queue filtered by brand walks one
# brand's pending drafts in priority order, both without sorting the whole table.
Index("ix_mention_published_at", MentionRow.__table__.c.published_at)  # type: ignore[attr-defined]
Index(
    "ix_draft_status_brand_priority",
    DraftRow.__table__.c.status,  # type: ignore[attr-defined]
    DraftRow.__table__.c.brand,  # type: ignore[attr-defined]
    DraftRow.__table__.c.priority,  # type: ignore[attr-defined]
)
