"""Queries behind the review desk pages: keyset pages, capped counts and chart series.

The queue must stay fast with 100,000 pending drafts, so pages are keyset (seek) pages on the
(status, priority) index instead of OFFSET, and counts stop at a cap instead of counting every
row on every render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, func, insert, literal, or_, select, update

from listener.domain import Draft, StoredMention, utc
from listener.store import audit
from listener.store.drafts import row_to_draft
from listener.store.filters import (
    DraftFilter,
    MentionFilter,
    draft_conditions,
    drafts_from,
    mention_conditions,
)
from listener.store.mentions import (
    DRAFT,
    DRAFT_EVENT,
    MENTION,
    SCORE,
    mentions_by_ids,
    row_to_stored,
)
from listener.store.tables import BrandRow, SourceRow

BRAND = BrandRow.__table__  # type: ignore[attr-defined]
SOURCE = SourceRow.__table__  # type: ignore[attr-defined]
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class QueueCursor:
    """Where the next queue page starts: after this (priority, id)."""

    priority: float
    id: int

    def encode(self) -> str:
        return f"{self.priority!r}:{self.id}"

    @classmethod
    def decode(cls, raw: str) -> QueueCursor | None:
        priority, _, ident = raw.partition(":")
        try:
            return cls(float(priority), int(ident))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where the next mentions page starts: before this (published_at, id)."""

    published_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.published_at.isoformat()}|{self.id}"

    @classmethod
    def decode(cls, raw: str) -> FeedCursor | None:
        when, _, ident = raw.partition("|")
        try:
            return cls(utc(datetime.fromisoformat(when)), int(ident))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class QueueItem:
    draft: Draft
    mention: StoredMention | None


def queue_page(
    conn: Connection,
    f: DraftFilter,
    *,
    after: QueueCursor | None = None,
    limit: int = 50,
    mention_ids: Any | None = None,
) -> tuple[list[QueueItem], QueueCursor | None]:
    """One page of drafts, most urgent first, with their mentions; and the next page's cursor.

    `mention_ids` (a subquery or list) narrows the queue, e.g. to one incident's mentions.
    """
    conditions, needs = draft_conditions(f, mention_ids)
    if after is not None:
        conditions.append(
            or_(
                DRAFT.c.priority < after.priority,
                and_(DRAFT.c.priority == after.priority, DRAFT.c.id > after.id),
            )
        )
    query = (
        select(DRAFT)
        .select_from(drafts_from(needs))
        .where(and_(literal(True), *conditions))
        .order_by(DRAFT.c.priority.desc(), DRAFT.c.id.asc())
        .limit(limit + 1)
    )
    drafts = [row_to_draft(r) for r in conn.execute(query)]
    more = len(drafts) > limit
    drafts = drafts[:limit]
    found = mentions_by_ids(conn, [d.mention_id for d in drafts])
    items = [QueueItem(d, found.get(d.mention_id)) for d in drafts]
    cursor = QueueCursor(drafts[-1].priority, drafts[-1].id) if more and drafts else None
    return items, cursor


def count_drafts_capped(
    conn: Connection, f: DraftFilter, *, cap: int = COUNT_CAP, mention_ids: Any | None = None
) -> int:
    """How many drafts match, counting no further than `cap` + 1 (shown as "1,000+")."""
    conditions, needs = draft_conditions(f, mention_ids)
    inner = (
        select(DRAFT.c.id)
        .select_from(drafts_from(needs))
        .where(and_(literal(True), *conditions))
        .limit(cap + 1)
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def mention_page(
    conn: Connection,
    f: MentionFilter,
    *,
    before: FeedCursor | None = None,
    limit: int = 50,
    mention_ids: Any | None = None,
) -> tuple[list[StoredMention], FeedCursor | None]:
    """One page of mentions, newest first, and the next page's cursor."""
    conditions = mention_conditions(f, mention_ids)
    if before is not None:
        conditions.append(
            or_(
                MENTION.c.published_at < before.published_at,
                and_(MENTION.c.published_at == before.published_at, MENTION.c.id < before.id),
            )
        )
    query = (
        select(MENTION, SCORE)
        .join(SCORE, SCORE.c.mention_id == MENTION.c.id)
        .where(and_(literal(True), *conditions))
        .order_by(MENTION.c.published_at.desc(), MENTION.c.id.desc())
        .limit(limit + 1)
    )
    found = [row_to_stored(r) for r in conn.execute(query)]
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if found else None
    cursor = (
        FeedCursor(utc(last.mention.published_at), last.id)
        if more and last is not None and last.mention.published_at is not None
        else None
    )
    return found, cursor


def draft_for_mentions(conn: Connection, mention_ids: list[int]) -> dict[int, Draft]:
    if not mention_ids:
        return {}
    rows = conn.execute(
        select(DRAFT).where(DRAFT.c.mention_id.in_(mention_ids), DRAFT.c.kind == "routine")
    )
    return {r.mention_id: row_to_draft(r) for r in rows}


def brand_names(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(select(BRAND.c.name).order_by(BRAND.c.name))]


def source_names(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(select(SOURCE.c.name).order_by(SOURCE.c.name))]


@dataclass(frozen=True, slots=True)
class VolumePoint:
    brand: str
    start: datetime
    total: int
    dissatisfied: int


def volume_series(
    conn: Connection, *, since: datetime, until: datetime, bucket_seconds: int
) -> list[VolumePoint]:
    """Mentions and dissatisfied mentions per brand per time bucket in [since, until)."""
    if conn.dialect.name == "sqlite":
        epoch: Any = func.cast(func.strftime("%s", MENTION.c.published_at), Integer())
    else:
        epoch = func.floor(func.extract("epoch", MENTION.c.published_at))
    bucket = func.floor(epoch / bucket_seconds).label("bucket")
    unhappy = func.sum(func.cast(SCORE.c.dissatisfied, Integer())).label("unhappy")
    query = (
        select(MENTION.c.brand, bucket, func.count().label("total"), unhappy)
        .join(SCORE, SCORE.c.mention_id == MENTION.c.id)
        .where(MENTION.c.published_at >= since, MENTION.c.published_at < until)
        .group_by(MENTION.c.brand, bucket)
    )
    points = []
    for row in conn.execute(query):
        start = datetime.fromtimestamp(int(row.bucket) * bucket_seconds, tz=since.tzinfo)
        points.append(VolumePoint(row.brand, utc(start), int(row.total), int(row.unhappy or 0)))
    return sorted(points, key=lambda p: (p.brand, p.start))


def wake_snoozed(conn: Connection, now: datetime) -> list[int]:
    """Put drafts whose snooze has run out back in the pending queue, with history and audit."""
    rows = conn.execute(
        select(DRAFT.c.id, DRAFT.c.snoozed_until).where(
            DRAFT.c.status == "snoozed", DRAFT.c.snoozed_until <= now
        )
    ).all()
    woken = []
    for row in rows:
        changed = conn.execute(
            update(DRAFT)
            .where(DRAFT.c.id == row.id, DRAFT.c.status == "snoozed")
            .values(status="pending", snoozed_until=None, updated_at=now)
        )
        if changed.rowcount != 1:
            continue  # a person acted on it meanwhile
        detail = {"status": "pending", "snoozed_until": row.snoozed_until.isoformat()}
        conn.execute(
            insert(DRAFT_EVENT).values(
                draft_id=row.id, at=now, actor="listener", action="woken", detail=detail
            )
        )
        audit.append(
            conn,
            at=now,
            actor="listener",
            action="draft.wake",
            entity="draft",
            entity_id=row.id,
            before={"status": "snoozed"},
            after=detail,
        )
        woken.append(int(row.id))
    return woken
