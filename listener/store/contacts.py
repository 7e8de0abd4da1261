"""The do-not-contact list: who a brand must never reply to, and cancelling their waiting
replies when they are added.

Authors are compared by `author_key`: lower case, without a leading "@", so "@Dana_Tech",
"dana_tech" and the same handle typed in the page are one person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, delete, func, or_, select

from listener.domain import OptOutSeen, StoredMention
from listener.errors import NotAllowed, NotFound
from listener.outreach.identity import author_key, identities
from listener.outreach.review import ReviewAction
from listener.store import audit
from listener.store.bulk import one_of, upsert_ignore
from listener.store.drafts import apply_action
from listener.store.mentions import DRAFT, MENTION, unsettled_batches
from listener.store.mentions import ids_of as mention_ids_of
from listener.store.outreach_tables import DoNotContactRow
from listener.store.sends import lock_dispatch

DNC: Table = DoNotContactRow.__table__  # type: ignore[attr-defined]

OPEN_DRAFT_STATUSES = ("pending", "snoozed", "approved", "held")


# -- do-not-contact --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    """An entry on the do-not-contact list."""

    brand: str
    author: str
    reason: str
    created_at: datetime
    created_by: str
    mention_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "brand": self.brand,
            "author": self.author,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "mention_id": self.mention_id,
        }


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        row.brand, row.author, row.reason, row.created_at, row.created_by, row.mention_id
    )


def blocked(conn: Connection, brand: str, keys: Iterable[str]) -> Contact | None:
    """The do-not-contact entry that covers any of `keys` for `brand`, if there is one."""
    wanted = [k for k in keys if k]
    if not wanted:
        return None
    row = conn.execute(
        select(DNC).where(DNC.c.brand == brand, DNC.c.author.in_(wanted)).limit(1)
    ).first()
    return _contact(row) if row is not None else None


def unsettled_texts_by(
    conn: Connection, brand: str, keys: Iterable[str]
) -> list[tuple[int, str, str]]:
    """(mention id, title, text) of this author's mentions about `brand` whose after-store
    steps have not run yet (a crash, or rows stored before opt-outs were recorded with the
    batch): the dispatcher reads them for an opt-out before it claims a send.

    Settled mentions need no reading: their opt-outs are on the list, and a person who took
    someone off the list meant it.
    """
    wanted = [k for k in keys if k]
    ids = sorted({i for _, batch in unsettled_batches(conn) for i in batch})
    if not wanted or not ids:
        return []
    handle = func.lower(MENTION.c.author)
    found: list[tuple[int, str, str]] = []
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(MENTION.c.id, MENTION.c.title, MENTION.c.text)
            .where(
                one_of(conn, MENTION.c.id, ids[start : start + 500]),
                MENTION.c.brand == brand,
                or_(
                    handle.in_(wanted),
                    handle.in_([f"@{k}" for k in wanted]),
                    func.lower(MENTION.c.author_email).in_(wanted),
                ),
            )
            .order_by(MENTION.c.id)
        )
        found.extend((int(r.id), r.title, r.text) for r in rows)
    return found


def list_contacts(conn: Connection, brand: str = "") -> list[Contact]:
    query = select(DNC).order_by(DNC.c.brand, DNC.c.created_at, DNC.c.id)
    if brand:
        query = query.where(DNC.c.brand == brand)
    return [_contact(r) for r in conn.execute(query)]


def add_contact(
    conn: Connection,
    *,
    brand: str,
    author: str,
    reason: str,
    actor: str,
    at: datetime,
    mention_id: int | None = None,
) -> tuple[bool, list[int]]:
    """Put `author` on `brand`'s do-not-contact list and cancel their waiting replies.

    Returns (added, cancelled draft ids); adding someone already listed changes nothing but
    still cancels replies that slipped in.
    """
    key = author_key(author)
    if not key:
        raise NotAllowed("an author is needed to add someone to the do-not-contact list")
    reason = reason.strip() or "added by a person"
    # Taken before any row or the audit chain: a dispatcher claiming one of these drafts
    # holds the same lock, so neither can wait on the other (no deadlock on PostgreSQL).
    lock_dispatch(conn)
    # RETURNING tells whether the row was new on every database (PostgreSQL's rowcount is -1
    # for an INSERT that SQLAlchemy gives an implicit RETURNING).
    inserted = conn.execute(
        upsert_ignore(conn, DNC)
        .values(
            brand=brand,
            author=key,
            reason=reason[:2000],
            mention_id=mention_id,
            created_at=at,
            created_by=actor,
        )
        .returning(DNC.c.id)
    ).first()
    added = inserted is not None
    if added:
        audit.append(
            conn,
            at=at,
            actor=actor,
            action="contact.do_not_contact",
            entity="contact",
            entity_id=f"{brand}:{key}",
            before=None,
            after={"brand": brand, "author": key, "reason": reason, "mention_id": mention_id},
        )
    cancelled = []
    for draft_id in open_drafts_for(conn, brand, [key]):
        apply_action(
            conn,
            draft_id,
            ReviewAction.CANCEL,
            actor=actor,
            at=at,
            reason=f"do not contact: {reason}",
        )
        cancelled.append(draft_id)
    return added, cancelled


def record_opt_outs(
    conn: Connection,
    opt_outs: Sequence[OptOutSeen],
    stored: Sequence[StoredMention],
    *,
    at: datetime,
) -> None:
    """Put the authors of these opt-out messages on their brands' lists, in the caller's
    transaction (the one that stores the batch), and cancel what waits for them.

    A message already stored (a re-import, a re-poll) or stored only as a sighting counts as
    well: the list is keyed by author, so recording it again changes nothing. The one
    exception: an old message seen again does not put back someone a person took off the
    list (a feed serves the same entries poll after poll); a new opt-out always does.
    """
    new = {(s.mention.source, s.mention.external_id): s.id for s in stored}
    ids = dict(new)
    missing = [
        (o.mention.source, o.mention.external_id)
        for o in opt_outs
        if (o.mention.source, o.mention.external_id) not in ids
    ]
    if missing:
        ids.update(mention_ids_of(conn, missing))
    for seen in opt_outs:
        key = (seen.mention.source, seen.mention.external_id)
        keys = identities(seen.mention)
        if key not in new and (
            blocked(conn, seen.brand, keys) is not None or _taken_off(conn, seen.brand, keys)
        ):
            continue
        mention_id = ids.get(key)
        where = (
            f"mention {mention_id}"
            if mention_id is not None
            else f"{seen.mention.source} post {seen.mention.external_id}"
        )
        for author in keys:
            add_contact(
                conn,
                brand=seen.brand,
                author=author,
                reason=f'opted out ("{seen.phrase}") in {where}',
                actor="listener",
                at=at,
                mention_id=mention_id,
            )


def _taken_off(conn: Connection, brand: str, keys: Sequence[str]) -> bool:
    """Whether a person ever took one of these authors off `brand`'s list."""
    if not keys:
        return False
    audit_table = audit.AUDIT
    row = conn.execute(
        select(audit_table.c.id)
        .where(
            audit_table.c.action == "contact.remove",
            audit_table.c.entity_id.in_([f"{brand}:{k}" for k in keys]),
        )
        .limit(1)
    ).first()
    return row is not None


def remove_contact(conn: Connection, *, brand: str, author: str, actor: str, at: datetime) -> None:
    key = author_key(author)
    row = conn.execute(select(DNC).where(DNC.c.brand == brand, DNC.c.author == key)).first()
    if row is None:
        raise NotFound(f"{author!r} is not on the do-not-contact list of {brand}")
    conn.execute(delete(DNC).where(DNC.c.id == row.id))
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="contact.remove",
        entity="contact",
        entity_id=f"{brand}:{key}",
        before=_contact(row).as_dict(),
        after=None,
    )


def open_drafts_for(conn: Connection, brand: str, keys: Sequence[str]) -> list[int]:
    """Drafts not yet sent to this author (by handle, email address or email recipient)."""
    wanted = [k for k in keys if k]
    if not wanted:
        return []
    handle = func.lower(MENTION.c.author)
    query = (
        select(DRAFT.c.id)
        .select_from(DRAFT.join(MENTION, MENTION.c.id == DRAFT.c.mention_id))
        .where(
            DRAFT.c.brand == brand,
            DRAFT.c.status.in_(OPEN_DRAFT_STATUSES),
            or_(
                handle.in_(wanted),
                handle.in_([f"@{k}" for k in wanted]),
                func.lower(MENTION.c.author_email).in_(wanted),
                and_(DRAFT.c.channel == "email", func.lower(DRAFT.c.recipient).in_(wanted)),
            ),
        )
        .order_by(DRAFT.c.id)
    )
    return [r[0] for r in conn.execute(query)]
