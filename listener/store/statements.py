"""Holding statements and crisis replies: reading them, applying a person's action with a
compare-and-set, and the statement outbox (claim, posted, failed, retry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from listener.domain import (
    Channel,
    Draft,
    DraftKind,
    DraftStatus,
    PlannedDraft,
    Statement,
    StatementStatus,
    StoredMention,
)
from listener.errors import InvalidTransition, NotFound
from listener.outreach.crisis import ApprovalStep, StatementAction, decide_statement
from listener.outreach.identity import author_key
from listener.store import audit
from listener.store.drafts import get_draft
from listener.store.incidents import INCIDENT_MENTION
from listener.store.mentions import DRAFT, DRAFT_EVENT, MENTION, mentions_by_ids
from listener.store.statement_tables import StatementRow

STATEMENT: Table = StatementRow.__table__  # type: ignore[attr-defined]
LIVE = "live"
# Channels a dispatcher posts on; a manual statement is posted by a person.
AUTOMATIC = (Channel.X.value, Channel.EMAIL.value)


def row_to_statement(row: Row[Any]) -> Statement:
    return Statement(
        id=row.id,
        incident_id=row.incident_id,
        brand=row.brand,
        channel=Channel(row.channel),
        template=row.template,
        text=row.text,
        status=StatementStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        edited_by=row.edited_by,
        first_approved_by=row.first_approved_by,
        approved_by=row.approved_by,
        recipients=tuple(row.recipients or ()),
        posted_at=row.posted_at,
        platform_id=row.platform_id,
        url=row.url,
        error=row.error,
        needs_check=bool(row.needs_check),
        hold_reason=row.hold_reason,
        next_attempt_at=row.next_attempt_at,
    )


def get_statement(conn: Connection, statement_id: int) -> Statement:
    row = conn.execute(select(STATEMENT).where(STATEMENT.c.id == statement_id)).first()
    if row is None:
        raise NotFound(f"there is no statement {statement_id}")
    return row_to_statement(row)


def list_statements(conn: Connection, incident_id: int | None = None) -> list[Statement]:
    query = select(STATEMENT).order_by(STATEMENT.c.id)
    if incident_id is not None:
        query = query.where(STATEMENT.c.incident_id == incident_id)
    return [row_to_statement(r) for r in conn.execute(query)]


def _live(conn: Connection, incident_id: int, channel: str) -> Statement | None:
    row = conn.execute(
        select(STATEMENT).where(
            STATEMENT.c.incident_id == incident_id,
            STATEMENT.c.channel == channel,
            STATEMENT.c.live_slot == LIVE,
        )
    ).first()
    return row_to_statement(row) if row is not None else None


def _already(incident_id: int, existing: Statement | None, channel: str) -> InvalidTransition:
    which = f" (statement {existing.id}, {existing.status.value})" if existing else ""
    return InvalidTransition(
        f"incident {incident_id} already has a holding statement on {channel}{which}: one per "
        "channel. Edit that one, or cancel it first if it was never posted"
    )


def insert_statement(
    conn: Connection,
    *,
    incident_id: int,
    brand: str,
    channel: Channel,
    template: str,
    text: str,
    recipients: Sequence[str],
    actor: str,
    at: datetime,
) -> Statement:
    """A new draft statement; `InvalidTransition` when the channel has one that is not
    cancelled (the unique key decides between two people drafting at once)."""
    existing = _live(conn, incident_id, channel.value)
    if existing is not None:
        raise _already(incident_id, existing, channel.value)
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(STATEMENT)
                .values(
                    incident_id=incident_id,
                    brand=brand,
                    channel=channel.value,
                    live_slot=LIVE,
                    template=template,
                    text=text,
                    status=StatementStatus.DRAFT.value,
                    recipients=list(recipients),
                    created_by=actor,
                    edited_by="",
                    first_approved_by="",
                    approved_by="",
                    created_at=at,
                    updated_at=at,
                    claimed_by="",
                    attempts=0,
                    hold_reason="",
                    platform_id="",
                    url="",
                    error="",
                    needs_check=False,
                )
                .returning(STATEMENT.c.id)
            ).scalar_one()
    except IntegrityError:
        raise _already(
            incident_id, _live(conn, incident_id, channel.value), channel.value
        ) from None
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="statement.draft",
        entity="statement",
        entity_id=new_id,
        after={
            "incident_id": incident_id,
            "channel": channel.value,
            "template": template,
            "text": text,
            "recipients": list(recipients),
        },
    )
    return get_statement(conn, new_id)


def apply_statement_action(
    conn: Connection,
    statement_id: int,
    action: StatementAction,
    *,
    actor: str,
    role: str | None,
    four_eyes: bool,
    at: datetime,
    text: str | None = None,
    url: str = "",
) -> Statement:
    """Apply a person's action atomically, audited; `text` is the new text of an edit or a
    redraft, `url` where a person posted it (POSTED)."""
    st = get_statement(conn, statement_id)
    decision = decide_statement(st, action, actor=actor, role=role, four_eyes=four_eyes, text=text)
    values: dict[str, Any] = {"status": decision.to.value, "updated_at": at}
    if action in (StatementAction.EDIT, StatementAction.REDRAFT):
        values.update(
            text=text,
            edited_by=actor,
            first_approved_by="",
            approved_by="",
            error="",
            hold_reason="",
            next_attempt_at=None,
        )
    elif action is StatementAction.APPROVE and decision.step is ApprovalStep.FIRST:
        values.update(first_approved_by=actor)
    elif action is StatementAction.APPROVE:
        values.update(approved_by=actor)
    elif action is StatementAction.CANCEL:
        values.update(live_slot=f"cancelled:{statement_id}", hold_reason="", next_attempt_at=None)
    elif action is StatementAction.POSTED:
        values.update(
            posted_at=at,
            url=url or st.url,
            platform_id=st.platform_id or url,
            needs_check=False,
            error="",
        )
    # The approvals and the text are part of what is compared: two first approvals at once,
    # or an edit racing an approval, leave one winner and a clear "reload".
    result = conn.execute(
        update(STATEMENT)
        .where(
            STATEMENT.c.id == statement_id,
            STATEMENT.c.status == st.status.value,
            STATEMENT.c.first_approved_by == st.first_approved_by,
            STATEMENT.c.text == st.text,
        )
        .values(**values)
    )
    if result.rowcount != 1:
        raise InvalidTransition(f"statement {statement_id} changed while you were looking; reload")
    after: dict[str, Any] = {"status": decision.to.value}
    if text is not None:
        after["text"] = text
    if decision.step is not None:
        after["approval"] = decision.step.value
    if url:
        after["url"] = url
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=f"statement.{action.value}",
        entity="statement",
        entity_id=statement_id,
        before={"status": st.status.value, "text": st.text},
        after=after,
    )
    return get_statement(conn, statement_id)


# -- the statement outbox --------------------------------------------------------------------


def due_statements(conn: Connection, *, now: datetime, limit: int) -> list[int]:
    query = (
        select(STATEMENT.c.id)
        .where(
            STATEMENT.c.status == StatementStatus.APPROVED.value,
            STATEMENT.c.channel.in_(AUTOMATIC),
            or_(STATEMENT.c.next_attempt_at.is_(None), STATEMENT.c.next_attempt_at <= now),
        )
        .order_by(STATEMENT.c.id)
        .limit(limit)
    )
    return [r[0] for r in conn.execute(query)]


def sending_statements(conn: Connection) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(
                STATEMENT.c.id, STATEMENT.c.channel, STATEMENT.c.claimed_by, STATEMENT.c.claimed_at
            ).where(STATEMENT.c.status == StatementStatus.SENDING.value)
        )
    )


def claim_statement(conn: Connection, statement_id: int, *, instance: str, at: datetime) -> bool:
    """approved → sending, compare-and-set, audited; the caller commits before posting."""
    result = conn.execute(
        update(STATEMENT)
        .where(
            STATEMENT.c.id == statement_id,
            STATEMENT.c.status == StatementStatus.APPROVED.value,
            STATEMENT.c.channel.in_(AUTOMATIC),
        )
        .values(
            status=StatementStatus.SENDING.value,
            claimed_by=instance,
            claimed_at=at,
            attempts=STATEMENT.c.attempts + 1,
            hold_reason="",
            next_attempt_at=None,
            error="",
            updated_at=at,
        )
    )
    if result.rowcount != 1:
        return False
    _record(
        conn, statement_id, at, instance, "statement.sending", "approved", {"status": "sending"}
    )
    return True


def _transition(
    conn: Connection,
    statement_id: int,
    from_statuses: Sequence[str],
    held_by: str | None,
    **values: Any,
) -> bool:
    """Move a statement out of `from_statuses` (and, given `held_by`, only while that
    dispatcher holds its claim), compare-and-set."""
    conditions = [STATEMENT.c.id == statement_id, STATEMENT.c.status.in_(list(from_statuses))]
    if held_by is not None:
        conditions.append(STATEMENT.c.claimed_by == held_by)
    return bool(conn.execute(update(STATEMENT).where(*conditions).values(**values)).rowcount == 1)


def _record(
    conn: Connection,
    statement_id: int,
    at: datetime,
    actor: str,
    action: str,
    before: str,
    after: dict[str, Any],
) -> None:
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=action,
        entity="statement",
        entity_id=statement_id,
        before={"status": before},
        after=after,
    )


def mark_posted(
    conn: Connection,
    statement_id: int,
    *,
    platform_id: str,
    url: str,
    actor: str,
    at: datetime,
    claimed_by: str,
) -> bool:
    if not _transition(
        conn,
        statement_id,
        (StatementStatus.SENDING.value,),
        claimed_by,
        status=StatementStatus.POSTED.value,
        platform_id=platform_id[:400],
        url=url[:2000],
        posted_at=at,
        error="",
        needs_check=False,
        updated_at=at,
    ):
        return False
    after = {"status": "posted", "platform_id": platform_id, "url": url or None}
    _record(conn, statement_id, at, actor, "statement.posted", "sending", after)
    return True


def mark_failed(
    conn: Connection,
    statement_id: int,
    *,
    error: str,
    needs_check: bool,
    actor: str,
    at: datetime,
    claimed_by: str | None,
) -> bool:
    if not _transition(
        conn,
        statement_id,
        (StatementStatus.SENDING.value,),
        claimed_by,
        status=StatementStatus.FAILED.value,
        error=error[:4000],
        needs_check=needs_check,
        updated_at=at,
    ):
        return False
    after = {"status": "failed", "error": error, "needs_check": needs_check}
    _record(conn, statement_id, at, actor, "statement.send_failed", "sending", after)
    return True


def retry_later(
    conn: Connection,
    statement_id: int,
    *,
    reason: str,
    retry_at: datetime,
    actor: str,
    at: datetime,
    claimed_by: str,
) -> bool:
    """sending → approved with a retry time: the platform certainly did not post it."""
    if not _transition(
        conn,
        statement_id,
        (StatementStatus.SENDING.value,),
        claimed_by,
        status=StatementStatus.APPROVED.value,
        hold_reason=reason[:2000],
        next_attempt_at=retry_at,
        claimed_by="",
        claimed_at=None,
        updated_at=at,
    ):
        return False
    after = {"status": "approved", "reason": reason, "retry_at": retry_at.isoformat()}
    _record(conn, statement_id, at, actor, "statement.send_retry", "sending", after)
    return True


# -- crisis replies --------------------------------------------------------------------------


def crisis_replies_of(conn: Connection, incident_id: int) -> list[Draft]:
    """The incident's crisis replies, oldest first."""
    rows = conn.execute(
        select(DRAFT)
        .select_from(
            DRAFT.join(INCIDENT_MENTION, INCIDENT_MENTION.c.mention_id == DRAFT.c.mention_id)
        )
        .where(
            INCIDENT_MENTION.c.incident_id == incident_id, DRAFT.c.kind == DraftKind.CRISIS.value
        )
        .order_by(DRAFT.c.id)
    )
    return [get_draft(conn, r.id) for r in rows]


def latest_mention_by(conn: Connection, incident_id: int, author: str) -> StoredMention | None:
    """The author's newest mention in the incident (handles compared without case or '@')."""
    wanted = author_key(author)
    rows = conn.execute(
        select(MENTION.c.id, MENTION.c.author)
        .select_from(INCIDENT_MENTION.join(MENTION, MENTION.c.id == INCIDENT_MENTION.c.mention_id))
        .where(INCIDENT_MENTION.c.incident_id == incident_id, MENTION.c.author != "")
        .order_by(MENTION.c.published_at.desc(), MENTION.c.id.desc())
    )
    for mention_id, found_author in rows:
        if author_key(found_author) == wanted:
            return mentions_by_ids(conn, [mention_id]).get(mention_id)
    return None


def insert_crisis_draft(
    conn: Connection, stored: StoredMention, plan: PlannedDraft, *, actor: str, at: datetime
) -> Draft:
    draft_id = conn.execute(
        insert(DRAFT)
        .values(
            mention_id=stored.id,
            brand=stored.brand,
            channel=plan.channel,
            template=plan.template,
            text=plan.text,
            original_text=plan.text,
            status=DraftStatus.PENDING.value,
            recipient=plan.recipient,
            priority=plan.priority,
            hold_reason=plan.hold_reason,
            kind=DraftKind.CRISIS.value,
            created_at=at,
            updated_at=at,
        )
        .returning(DRAFT.c.id)
    ).scalar_one()
    detail = {"template": plan.template, "kind": DraftKind.CRISIS.value}
    conn.execute(
        insert(DRAFT_EVENT).values(
            draft_id=draft_id, at=at, actor=actor, action="created", detail=detail
        )
    )
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="draft.create",
        entity="draft",
        entity_id=draft_id,
        after={
            **detail,
            "text": plan.text,
            "recipient": plan.recipient,
            "author": stored.mention.author,
        },
    )
    return get_draft(conn, draft_id)


def count_crisis_replies(conn: Connection, incident_id: int) -> int:
    """Crisis replies of the incident that count against its cap: all but those a person
    rejected or cancelled."""
    query = (
        select(func.count())
        .select_from(
            DRAFT.join(INCIDENT_MENTION, INCIDENT_MENTION.c.mention_id == DRAFT.c.mention_id)
        )
        .where(
            INCIDENT_MENTION.c.incident_id == incident_id,
            DRAFT.c.kind == DraftKind.CRISIS.value,
            DRAFT.c.status.notin_([DraftStatus.REJECTED.value, DraftStatus.CANCELLED.value]),
        )
    )
    return int(conn.execute(query).scalar_one())
