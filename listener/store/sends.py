"""The send outbox in the draft table: the dispatch lock, due drafts, claims (approved →
sending), their outcomes (sent, failed, back to approved with a retry time), and the send log
that caps and rates count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, func, insert, or_, select, text, update

from listener.domain import Draft, DraftStatus, StoredMention
from listener.errors import InvalidTransition, NotFound
from listener.store import audit
from listener.store.cases import first_response_change
from listener.store.drafts import get_draft
from listener.store.mentions import DRAFT, DRAFT_EVENT, mentions_by_ids
from listener.store.outreach_tables import SendLogRow

SEND_LOG: Table = SendLogRow.__table__  # type: ignore[attr-defined]

_DISPATCH_LOCK_KEY = 7_302_912  # arbitrary constant advisory-lock key for send claims


# -- the dispatch outbox ---------------------------------------------------------------------


def lock_dispatch(conn: Connection) -> None:
    """Serialise send claims across processes (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DISPATCH_LOCK_KEY})


def due_drafts(
    conn: Connection, *, channels: Sequence[str], now: datetime, limit: int
) -> list[int]:
    """Approved drafts on these channels whose retry time (if any) has come, most urgent first."""
    query = (
        select(DRAFT.c.id)
        .where(
            DRAFT.c.status == DraftStatus.APPROVED.value,
            DRAFT.c.channel.in_(list(channels)),
            or_(DRAFT.c.next_attempt_at.is_(None), DRAFT.c.next_attempt_at <= now),
        )
        .order_by(DRAFT.c.priority.desc(), DRAFT.c.id)
        .limit(limit)
    )
    return [r[0] for r in conn.execute(query)]


def stuck_in_sending(conn: Connection) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(DRAFT.c.id, DRAFT.c.channel, DRAFT.c.claimed_by, DRAFT.c.claimed_at).where(
                DRAFT.c.status == DraftStatus.SENDING.value
            )
        )
    )


def attempts_of(conn: Connection, draft_id: int) -> int:
    return int(conn.execute(select(DRAFT.c.attempts).where(DRAFT.c.id == draft_id)).scalar_one())


def mention_of(conn: Connection, draft: Draft) -> StoredMention:
    found = mentions_by_ids(conn, [draft.mention_id])
    if draft.mention_id not in found:
        raise NotFound(f"draft {draft.id} has no mention {draft.mention_id}")
    return found[draft.mention_id]


def sends_to(conn: Connection, brand: str, author: str, since: datetime) -> list[datetime]:
    rows = conn.execute(
        select(SEND_LOG.c.at).where(
            SEND_LOG.c.brand == brand, SEND_LOG.c.author == author, SEND_LOG.c.at > since
        )
    )
    return [r[0] for r in rows]


def sends_on(conn: Connection, channel: str, since: datetime) -> list[datetime]:
    rows = conn.execute(
        select(SEND_LOG.c.at).where(SEND_LOG.c.channel == channel, SEND_LOG.c.at > since)
    )
    return [r[0] for r in rows]


def _event(
    conn: Connection, draft_id: int, at: datetime, actor: str, action: str, detail: Any
) -> None:
    conn.execute(
        insert(DRAFT_EVENT).values(
            draft_id=draft_id, at=at, actor=actor, action=action, detail=detail
        )
    )


def hold(
    conn: Connection, draft: Draft, *, reason: str, until: datetime | None, at: datetime
) -> bool:
    """Record why an approved draft waits; returns False when nothing changed."""
    if draft.hold_reason == reason and draft.next_attempt_at == until:
        return False
    conn.execute(
        update(DRAFT)
        .where(DRAFT.c.id == draft.id, DRAFT.c.status == DraftStatus.APPROVED.value)
        .values(hold_reason=reason[:2000], next_attempt_at=until, updated_at=at)
    )
    if draft.hold_reason != reason:
        _event(conn, draft.id, at, "dispatcher", "held", {"reason": reason})
    return True


def back_to_review(
    conn: Connection, draft: Draft, *, reason: str, actor: str, at: datetime
) -> bool:
    """approved → pending with the reason and the approval cleared (compare-and-set): a person
    must change it before it may go (it echoes a reply just sent to someone else)."""
    if not _transition(
        conn,
        draft.id,
        (DraftStatus.APPROVED.value,),
        None,
        status=DraftStatus.PENDING.value,
        approved_by="",
        hold_reason=reason[:2000],
        next_attempt_at=None,
        updated_at=at,
    ):
        return False
    after = {"status": DraftStatus.PENDING.value, "reason": reason}
    before = {"status": DraftStatus.APPROVED.value, "approved_by": draft.approved_by or None}
    _record(conn, draft.id, at, actor, "returned", "draft.reword", before, after)
    return True


def claim(conn: Connection, draft: Draft, *, author: str, instance: str, at: datetime) -> bool:
    """approved → sending, compare-and-set; logs the send for caps and audits it."""
    result = conn.execute(
        update(DRAFT)
        .where(DRAFT.c.id == draft.id, DRAFT.c.status == DraftStatus.APPROVED.value)
        .values(
            status=DraftStatus.SENDING.value,
            claimed_by=instance,
            claimed_at=at,
            attempts=DRAFT.c.attempts + 1,
            hold_reason="",
            next_attempt_at=None,
            error="",
            needs_check=False,
            updated_at=at,
        )
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        insert(SEND_LOG).values(
            draft_id=draft.id, brand=draft.brand, author=author, channel=draft.channel.value, at=at
        )
    )
    _event(conn, draft.id, at, instance, "sending", {"channel": draft.channel.value})
    audit.append(
        conn,
        at=at,
        actor=instance,
        action="draft.sending",
        entity="draft",
        entity_id=draft.id,
        before={"status": "approved"},
        after={"status": "sending", "channel": draft.channel.value, "recipient": draft.recipient},
    )
    return True


def mark_sent(
    conn: Connection,
    draft_id: int,
    *,
    platform_id: str,
    actor: str,
    at: datetime,
    from_statuses: Sequence[str] = (DraftStatus.SENDING.value,),
    claimed_by: str | None = None,
    note: str = "",
) -> Draft:
    """→ sent with the platform's id; the case (if any) gets its first response."""
    draft = get_draft(conn, draft_id)
    if not _transition(
        conn,
        draft_id,
        from_statuses,
        claimed_by,
        status=DraftStatus.SENT.value,
        platform_id=platform_id[:200],
        sent_at=at,
        error="",
        hold_reason="",
        needs_check=False,
        next_attempt_at=None,
        updated_at=at,
    ):
        raise InvalidTransition(
            f"draft {draft_id} is {draft.status.value}; it cannot be marked as sent now"
        )
    detail = {"status": "sent", "platform_id": platform_id or None}
    if note:
        detail["note"] = note
    _event(conn, draft_id, at, actor, "sent", detail)
    # The case row is locked before the audit chain, in the same order as a person's case
    # update, so the two never deadlock on PostgreSQL.
    case_change = first_response_change(conn, draft.mention_id, at=at)
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="draft.sent",
        entity="draft",
        entity_id=draft_id,
        before={"status": draft.status.value},
        after={**detail, "channel": draft.channel.value, "text": draft.text},
    )
    if case_change is not None:
        audit.append(conn, at=at, actor=actor, **case_change)
    return get_draft(conn, draft_id)


def mark_failed(
    conn: Connection,
    draft_id: int,
    *,
    error: str,
    needs_check: bool,
    actor: str,
    at: datetime,
    claimed_by: str | None = None,
) -> bool:
    """sending → failed with the error; `needs_check` when it may have been posted."""
    if not _transition(
        conn,
        draft_id,
        (DraftStatus.SENDING.value,),
        claimed_by,
        status=DraftStatus.FAILED.value,
        error=error[:4000],
        needs_check=needs_check,
        updated_at=at,
    ):
        return False
    if not needs_check:
        _forget_last_send(conn, draft_id)  # certainly not delivered: no cap for it
    after = {"status": "failed", "error": error, "needs_check": needs_check}
    _record(conn, draft_id, at, actor, "failed", "draft.send_failed", {"status": "sending"}, after)
    return True


def _transition(
    conn: Connection,
    draft_id: int,
    from_statuses: Sequence[str],
    held_by: str | None,
    **values: Any,
) -> bool:
    """Move a draft out of one of `from_statuses` (and, given `held_by`, only if that
    dispatcher still holds its claim), compare-and-set; False when it was not there."""
    conditions = [DRAFT.c.id == draft_id, DRAFT.c.status.in_(list(from_statuses))]
    if held_by is not None:
        conditions.append(DRAFT.c.claimed_by == held_by)
    result = conn.execute(update(DRAFT).where(*conditions).values(**values))
    return bool(result.rowcount == 1)


def _record(
    conn: Connection,
    draft_id: int,
    at: datetime,
    actor: str,
    event: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """A send-side transition goes into the draft's history and the audit chain together."""
    _event(conn, draft_id, at, actor, event, after)
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=action,
        entity="draft",
        entity_id=draft_id,
        before=before,
        after=after,
    )


def _forget_last_send(conn: Connection, draft_id: int) -> None:
    last = conn.execute(
        select(func.max(SEND_LOG.c.id)).where(SEND_LOG.c.draft_id == draft_id)
    ).scalar_one_or_none()
    if last is not None:
        conn.execute(delete(SEND_LOG).where(SEND_LOG.c.id == last))


def retry_later(
    conn: Connection,
    draft_id: int,
    *,
    reason: str,
    retry_at: datetime,
    actor: str,
    at: datetime,
    claimed_by: str,
) -> bool:
    """sending → approved again with a retry time: the platform certainly did not post it."""
    if not _transition(
        conn,
        draft_id,
        (DraftStatus.SENDING.value,),
        claimed_by,
        status=DraftStatus.APPROVED.value,
        hold_reason=reason[:2000],
        next_attempt_at=retry_at,
        claimed_by="",
        claimed_at=None,
        updated_at=at,
    ):
        return False
    _forget_last_send(conn, draft_id)  # it reached no one: no cap or rate for it
    after = {"status": "approved", "reason": reason, "retry_at": retry_at.isoformat()}
    _record(conn, draft_id, at, actor, "retry", "draft.send_retry", {"status": "sending"}, after)
    return True
