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

from listener.errors import NotAllowed, NotFound
from listener.outreach.identity import author_key
from listener.outreach.review import ReviewAction
from listener.store import audit
from listener.store.bulk import upsert_ignore
from listener.store.drafts import apply_action
from listener.store.mentions import DRAFT, MENTION
from listener.store.outreach_tables import DoNotContactRow
from listener.store.sends import lock_dispatch

DNC: Table = DoNotContactRow.__table__  # type: ignore[attr-defined]

OPEN_DRAFT_STATUSES = ("pending", "snoozed", "approved")


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
