"""Writing mentions with their scores and drafts in one transaction, and reading them back.

The hot path uses Core statements (one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING per
batch): the ORM is about ten times slower here, and dedup by (source, external_id) has to be
one statement to be safe when two pollers race.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, func, select
from sqlalchemy.engine import Dialect

from listener.domain import (
    Category,
    ComplaintReason,
    Engagement,
    IngestItem,
    Mention,
    Score,
    Signal,
    StoredMention,
    utc,
)
from listener.store.bulk import insert_rows, one_of, one_of_sql, placeholder
from listener.store.filters import MentionFilter, mention_conditions
from listener.store.tables import (
    DraftEventRow,
    DraftRow,
    MentionRow,
    ScoreRow,
    SightingRow,
    UnsettledBatchRow,
)

MENTION: Table = MentionRow.__table__  # type: ignore[attr-defined]
UNSETTLED: Table = UnsettledBatchRow.__table__  # type: ignore[attr-defined]
SCORE: Table = ScoreRow.__table__  # type: ignore[attr-defined]
DRAFT: Table = DraftRow.__table__  # type: ignore[attr-defined]
DRAFT_EVENT: Table = DraftEventRow.__table__  # type: ignore[attr-defined]
SIGHTING: Table = SightingRow.__table__  # type: ignore[attr-defined]
_TITLE_WORDS = re.compile(r"\w+", re.UNICODE)
_CHUNK = 500


def known_external_ids(conn: Connection, source: str, external_ids: Sequence[str]) -> set[str]:
    """Which of these ids the store already has for `source` (to skip re-scoring them)."""
    sql, as_parameter = _known_sql(conn.dialect)
    known: set[str] = set()
    for start in range(0, len(external_ids), _CHUNK):
        ids = as_parameter(list(external_ids[start : start + _CHUNK]))
        known.update(r[0] for r in conn.exec_driver_sql(sql, (source, ids, source, ids)))
    return known


@cache
def _known_sql(dialect: Dialect) -> tuple[str, Callable[[list[str]], Any]]:
    """Every poll asks which of its entries are known, so this is the driver's SQL, one statement
    for both tables (a round trip each on a database across a network), with the ids as one
    parameter so the text never changes. Built as a Core statement, its construction and compilation
    would cost several times the query itself; both halves are seeks in the (source, external_id)
    unique index."""
    mark = placeholder(dialect)
    in_ids, as_parameter = one_of_sql(dialect)
    sql = " UNION ALL ".join(
        f"SELECT external_id FROM {table.name} WHERE source = {mark} AND external_id {in_ids}"
        for table in (MENTION, SIGHTING)
    )
    return sql, as_parameter


# Counts are four-byte integer columns on PostgreSQL, which refuses a larger value, and with
# it the whole batch, on every retry; past two billion a count says "huge" all the same.
_COUNT_MAX = 2**31 - 1


def _count(value: int) -> int:
    return min(max(value, 0), _COUNT_MAX)


def _followers(value: int | None) -> int | None:
    return None if value is None else _count(value)


def _mention_values(item: IngestItem, fetched_at: datetime) -> dict[str, Any]:
    m = item.mention
    fetched = utc(m.fetched_at) if m.fetched_at else fetched_at
    return {
        "source": m.source,
        "external_id": m.external_id,
        "source_kind": m.source_kind,
        "brand": item.brand,
        "matched_term": item.matched_term[:200],
        "text": m.text,
        "title": m.title,
        "url": m.url[:4000],
        "author": m.author[:400],
        "author_name": m.author_name[:400],
        "author_followers": _followers(m.author_followers),
        "author_verified": m.author_verified,
        "author_email": m.author_email[:400],
        "published_at": utc(m.published_at) if m.published_at else fetched,
        "fetched_at": fetched,
        "lang": m.lang[:20],
        "replies": _count(m.engagement.replies),
        "reposts": _count(m.engagement.reposts),
        "likes": _count(m.engagement.likes),
        "quotes": _count(m.engagement.quotes),
        "in_reply_to": m.in_reply_to[:200],
        "story_key": story_key(m),
        "title_key": title_key(m),
    }


def story_key(mention: Mention) -> str:
    """A key shared by sightings of the same story: its link without tracking noise."""
    url = mention.url.strip().lower()
    if not url:
        return ""
    url = url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    for prefix in ("https://", "http://"):
        url = url.removeprefix(prefix)
    return url.removeprefix("www.")[:200]


def title_key(mention: Mention) -> str:
    """A headline shared by sightings of the same story; short, generic titles never match."""
    words = _TITLE_WORDS.findall(mention.title.lower())
    if len(words) < 5 or sum(len(w) for w in words) < 24:
        return ""
    return " ".join(words)[:200]


def score_values(mention_id: int, score: Score, at: datetime) -> dict[str, Any]:
    return {
        "mention_id": mention_id,
        "dissatisfaction": float(score.dissatisfaction),
        "dissatisfied": bool(score.dissatisfied),
        "incident_risk": float(score.incident_risk),
        "category": score.category.value,
        "reason": score.reason.value if score.reason else "",
        # Written as the scorer gave them: the scorers round weights to 4 places (`Signal`).
        "signals": [{"name": name, "weight": weight} for name, weight in score.signals],
        "scorer": score.scorer,
        "scored_at": at,
    }


def insert_items(
    conn: Connection,
    items: Sequence[IngestItem],
    at: datetime,
    *,
    never_copies: frozenset[tuple[str, str]] = frozenset(),
) -> list[StoredMention]:
    """Store new mentions with scores and drafts; return only those that were new.

    The (source, external_id) keys in `never_copies` (opt-outs) are always stored as
    mentions of their own, never as sightings of another mention.
    """
    stored: list[StoredMention] = []
    for start in range(0, len(items), _CHUNK):
        stored.extend(_insert_chunk(conn, items[start : start + _CHUNK], at, never_copies))
    return stored


def _insert_chunk(
    conn: Connection,
    items: Sequence[IngestItem],
    at: datetime,
    never_copies: frozenset[tuple[str, str]],
) -> list[StoredMention]:
    by_key: dict[tuple[str, str], IngestItem] = {}
    for item in items:
        by_key.setdefault((item.mention.source, item.mention.external_id), item)
    if not by_key:
        return []
    everything = by_key
    by_key, existing, repeats = _split_sightings(conn, everything, never_copies)
    _insert_sightings(conn, everything, existing, at)
    if not by_key:
        return []
    rows = insert_rows(
        conn,
        MENTION,
        [_mention_values(i, at) for i in by_key.values()],
        ignore_conflicts=True,
        returning=("id", "source", "external_id"),
    )
    if not rows:
        return []
    rows.sort()  # RETURNING order is not promised; ids are in insertion order
    ids = {(source, external_id): mention_id for mention_id, source, external_id in rows}
    _insert_sightings(
        conn, everything, {k: ids[first] for k, first in repeats.items() if first in ids}, at
    )
    stored = []
    for mention_id, source, external_id in rows:
        item = by_key[(source, external_id)]
        stored.append(
            StoredMention(
                id=mention_id,
                brand=item.brand,
                mention=item.mention,
                score=item.score,
                matched_term=item.matched_term,
            )
        )
    insert_rows(conn, SCORE, [score_values(s.id, s.score, at) for s in stored])
    drafts = []
    for s in stored:
        plan = by_key[(s.mention.source, s.mention.external_id)].draft
        if plan is not None:
            drafts.append(
                {
                    "mention_id": s.id,
                    "brand": s.brand,
                    "channel": plan.channel,
                    "template": plan.template,
                    "text": plan.text,
                    "original_text": plan.text,
                    "status": "pending",
                    "recipient": plan.recipient,
                    "priority": plan.priority,
                    "hold_reason": plan.hold_reason,
                    "created_at": at,
                    "updated_at": at,
                }
            )
    if drafts:
        created = insert_rows(conn, DRAFT, drafts, returning=("id", "template"))
        insert_rows(
            conn,
            DRAFT_EVENT,
            [
                {
                    "draft_id": draft_id,
                    "at": at,
                    "actor": "listener",
                    "action": "created",
                    "detail": {"template": template},
                }
                for draft_id, template in sorted(created)
            ],
        )
    return stored


def _story_keys(item: IngestItem) -> list[tuple[str, str]]:
    keys = []
    if item.mention.source_kind != "x" and (sk := story_key(item.mention)):
        keys.append(("story", sk))
    if tk := title_key(item.mention):
        keys.append(("title", tk))
    return keys


def _same_words(text: str) -> str:
    """A text as copies of one article share it: compatibility forms, case and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _same_author(author: str) -> str:
    return unicodedata.normalize("NFKC", author).strip().casefold().removeprefix("@")


def _article(mention: Mention) -> tuple[str, str]:
    """What two copies of one article share besides the link or headline: author and text."""
    return _same_author(mention.author), _same_words(mention.text)


def _split_sightings(
    conn: Connection,
    by_key: dict[tuple[str, str], IngestItem],
    never_copies: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[
    dict[tuple[str, str], IngestItem],
    dict[tuple[str, str], int],
    dict[tuple[str, str], tuple[str, str]],
]:
    """Split a batch into new stories, sightings of stored stories, and in-batch repeats.

    A mention is a sighting of another only when it is a copy of the same article seen through
    another place (the same feed entry syndicated by two feeds): the same link (without query
    and fragment) or headline, AND the same author AND the same text. A different person's post
    that shares a link or a headline is a mention of its own, so a feed that publishes a link
    or headline first cannot turn later posts by other people into unscored sightings. An
    opt-out (`never_copies`) is always a mention of its own.
    """
    stories_of = {key: _story_keys(item) for key, item in by_key.items() if key not in never_copies}
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, stories in stories_of.items():
        for story in stories:
            wanted.setdefault(story, []).append(key)
    if not wanted:
        return by_key, {}, {}
    # Only rows by the batch's own authors can be copies: reading every row that shares a
    # link would let a feed that repeats one link make each later poll read all of them.
    authors = list({by_key[key].mention.author[:400] for key in stories_of})
    stored: dict[tuple[str, str, str, str], int] = {}
    for kind, column in (("story", MENTION.c.story_key), ("title", MENTION.c.title_key)):
        values = [v for k, v in wanted if k == kind]
        for start in range(0, len(values), _CHUNK):
            for first in range(0, len(authors), _CHUNK):
                rows = conn.execute(
                    select(MENTION.c.id, column, MENTION.c.author, MENTION.c.text)
                    .where(
                        one_of(conn, column, values[start : start + _CHUNK]),
                        one_of(conn, MENTION.c.author, authors[first : first + _CHUNK]),
                    )
                    .order_by(MENTION.c.id)
                )
                for row in rows:
                    copy = (kind, row[1], _same_author(row.author), _same_words(row.text))
                    stored.setdefault(copy, row.id)
    existing: dict[tuple[str, str], int] = {}
    repeats: dict[tuple[str, str], tuple[str, str]] = {}
    first_of: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    for key, stories in stories_of.items():
        author, words = _article(by_key[key].mention)
        copies = [(kind, value, author, words) for kind, value in stories]
        hit = next((stored[c] for c in copies if c in stored), None)
        if hit is not None:
            existing[key] = hit
            continue
        earlier = next((first_of[c] for c in copies if c in first_of), None)
        if earlier is not None:
            repeats[key] = earlier
            continue
        for copy in copies:
            first_of.setdefault(copy, key)
    remaining = {k: v for k, v in by_key.items() if k not in existing and k not in repeats}
    return remaining, existing, repeats


def _insert_sightings(
    conn: Connection,
    by_key: dict[tuple[str, str], IngestItem],
    links: dict[tuple[str, str], int],
    at: datetime,
) -> None:
    if not links:
        return
    insert_rows(
        conn,
        SIGHTING,
        [
            {
                "mention_id": mention_id,
                "source": key[0],
                "external_id": key[1],
                "url": by_key[key].mention.url[:4000],
                "author": by_key[key].mention.author[:400],
                "author_followers": _followers(by_key[key].mention.author_followers),
                "seen_at": at,
            }
            for key, mention_id in links.items()
        ],
        ignore_conflicts=True,
    )


def ids_of(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The stored mention ids of these (source, external_id) keys, where stored as mentions."""
    found: dict[tuple[str, str], int] = {}
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    for source, ids in by_source.items():
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(MENTION.c.id, MENTION.c.external_id).where(
                    MENTION.c.source == source,
                    one_of(conn, MENTION.c.external_id, ids[start : start + _CHUNK]),
                )
            )
            found.update(((source, r.external_id), int(r.id)) for r in rows)
    return found


def open_batch(conn: Connection, ids: Sequence[int], at: datetime) -> int:
    """Record a stored batch as unsettled, in the transaction that stores it."""
    [(batch_id,)] = insert_rows(
        conn, UNSETTLED, [{"stored_at": at, "mention_ids": list(ids)}], returning=("id",)
    )
    return int(batch_id)


def settle_batch(conn: Connection, batch_id: int) -> None:
    conn.execute(UNSETTLED.delete().where(UNSETTLED.c.id == batch_id))


def unsettled_batches(
    conn: Connection, *, stored_before: datetime | None = None, limit: int | None = None
) -> list[tuple[int, list[int]]]:
    query = select(UNSETTLED.c.id, UNSETTLED.c.mention_ids).order_by(UNSETTLED.c.id)
    if stored_before is not None:
        query = query.where(UNSETTLED.c.stored_at < stored_before)
    rows = conn.execute(query.limit(limit))
    return [(int(r.id), [int(i) for i in r.mention_ids]) for r in rows]


def select_mentions(
    conn: Connection, f: MentionFilter, *, limit: int, offset: int = 0, newest_first: bool = True
) -> list[StoredMention]:
    order = MENTION.c.published_at.desc() if newest_first else MENTION.c.published_at.asc()
    query = (
        select(MENTION, SCORE)
        .join(SCORE, SCORE.c.mention_id == MENTION.c.id)
        .where(and_(True, *mention_conditions(f)))
        .order_by(order, MENTION.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [row_to_stored(r) for r in conn.execute(query)]


def mentions_by_ids(conn: Connection, ids: Iterable[int]) -> dict[int, StoredMention]:
    wanted = list(ids)
    out: dict[int, StoredMention] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = (
            select(MENTION, SCORE)
            .join(SCORE, SCORE.c.mention_id == MENTION.c.id)
            .where(one_of(conn, MENTION.c.id, wanted[start : start + _CHUNK]))
        )
        for row in conn.execute(query):
            out[row.id] = row_to_stored(row)
    return out


def count_mentions(conn: Connection, f: MentionFilter) -> int:
    query = (
        select(func.count())
        .select_from(MENTION.join(SCORE, SCORE.c.mention_id == MENTION.c.id))
        .where(and_(True, *mention_conditions(f)))
    )
    return int(conn.execute(query).scalar_one())


def row_to_mention(row: Row[Any]) -> Mention:
    return Mention(
        source=row.source,
        external_id=row.external_id,
        text=row.text,
        title=row.title,
        url=row.url,
        author=row.author,
        author_name=row.author_name,
        author_followers=row.author_followers,
        author_verified=row.author_verified,
        author_email=row.author_email,
        published_at=row.published_at,
        fetched_at=row.fetched_at,
        lang=row.lang,
        engagement=Engagement(row.replies, row.reposts, row.likes, row.quotes),
        source_kind=row.source_kind,
        in_reply_to=row.in_reply_to,
    )


def row_to_score(row: Row[Any]) -> Score:
    return Score(
        dissatisfaction=row.dissatisfaction,
        dissatisfied=row.dissatisfied,
        incident_risk=row.incident_risk,
        category=Category(row.category),
        reason=ComplaintReason(row.reason) if row.reason else None,
        signals=tuple(Signal(s["name"], float(s["weight"])) for s in row.signals or ()),
        scorer=row.scorer,
    )


def row_to_stored(row: Row[Any]) -> StoredMention:
    return StoredMention(
        id=row.id,
        brand=row.brand,
        mention=row_to_mention(row),
        score=row_to_score(row),
        matched_term=row.matched_term,
    )


def stored_as_dict(s: StoredMention) -> dict[str, object]:
    m = s.mention
    return {
        "id": s.id,
        "brand": s.brand,
        "source": m.source,
        "source_kind": m.source_kind,
        "external_id": m.external_id,
        "title": m.title,
        "text": m.text,
        "url": m.url,
        "author": m.author,
        "author_name": m.author_name,
        "author_followers": m.author_followers,
        "author_verified": m.author_verified,
        "published_at": m.published_at.isoformat() if m.published_at else None,
        "fetched_at": m.fetched_at.isoformat() if m.fetched_at else None,
        "lang": m.lang or None,
        "engagement": {
            "replies": m.engagement.replies,
            "reposts": m.engagement.reposts,
            "likes": m.engagement.likes,
            "quotes": m.engagement.quotes,
        },
        "matched_term": s.matched_term,
        **s.score.as_dict(),
    }
