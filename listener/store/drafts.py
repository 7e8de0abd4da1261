"""Reading drafts and applying review actions with a compare-and-set on their status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from listener.domain import Channel, Draft, DraftKind, DraftStatus
from listener.errors import InvalidTransition, NotFound
from listener.outreach.crisis import ApprovalStep
from listener.outreach.review import ReviewAction, decide
from listener.store import audit
from listener.store.filters import DraftFilter, draft_conditions, drafts_from
from listener.store.mentions import DRAFT, DRAFT_EVENT


def row_to_draft(row: Row[Any]) -> Draft:
    return Draft(
        id=row.id,
        mention_id=row.mention_id,
        brand=row.brand,
        channel=Channel(row.channel),
        template=row.template,
        text=row.text,
        status=DraftStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        recipient=row.recipient,
        reject_reason=row.reject_reason,
        edited_by=row.edited_by,
        approved_by=row.approved_by,
        snoozed_until=row.snoozed_until,
        sent_at=row.sent_at,
        platform_id=row.platform_id,
        error=row.error,
        priority=row.priority,
        hold_reason=row.hold_reason,
        next_attempt_at=row.next_attempt_at,
        needs_check=bool(row.needs_check),
        held_incident_id=row.held_incident_id,
        kind=DraftKind(row.kind),
        first_approved_by=row.first_approved_by,
    )


def get_draft(conn: Connection, draft_id: int) -> Draft:
    row = conn.execute(select(DRAFT).where(DRAFT.c.id == draft_id)).first()
    if row is None:
        raise NotFound(f"there is no draft {draft_id}")
    return row_to_draft(row)


def select_drafts(conn: Connection, f: DraftFilter, *, limit: int, offset: int = 0) -> list[Draft]:
    """Drafts, most urgent first (priority already folds dissatisfaction, reach and risk)."""
    conditions, needs = draft_conditions(f)
    query = (
        select(DRAFT)
        .select_from(drafts_from(needs))
        .where(and_(True, *conditions))
        .order_by(DRAFT.c.priority.desc(), DRAFT.c.id.asc())
        .limit(limit)
        .offset(offset)
    )
    return [row_to_draft(r) for r in conn.execute(query)]


def count_drafts(conn: Connection, f: DraftFilter) -> int:
    conditions, needs = draft_conditions(f)
    query = select(func.count()).select_from(drafts_from(needs)).where(and_(True, *conditions))
    return int(conn.execute(query).scalar_one())


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(DRAFT.c.status, func.count()).group_by(DRAFT.c.status))
    return {status: int(n) for status, n in rows}


def apply_action(
    conn: Connection,
    draft_id: int,
    action: ReviewAction,
    *,
    actor: str,
    at: datetime,
    four_eyes: bool = False,
    text: str | None = None,
    reason: str | None = None,
    snooze_until: datetime | None = None,
    reply_names: Mapping[str, Sequence[str]] | None = None,
    role: str | None = None,
    crisis_four_eyes: bool = True,
) -> Draft:
    """Apply one review action atomically, with its history event and audit record.

    `reply_names` (`Settings.reply_names_by_brand()`): how each brand may be named; an edit
    must name the draft's brand. `role` is the actor's desk role: a crisis reply needs the
    crisis role to be approved (and, with `crisis_four_eyes`, two such people).
    """
    draft = get_draft(conn, draft_id)
    decision = decide(
        draft,
        action,
        actor=actor,
        four_eyes=four_eyes,
        text=text,
        reason=reason,
        brand_names=(reply_names or {}).get(draft.brand, ()),
        role=role,
        crisis_four_eyes=crisis_four_eyes,
    )
    values: dict[str, Any] = {"status": decision.to.value, "updated_at": at}
    if action is ReviewAction.EDIT:
        # A new text answers what the reply waited for (written by hand where no template
        # could, reworded so it no longer echoes another); send-time rules look again anyway.
        # It also needs every approval again, a crisis reply's first one included.
        values.update(
            text=text, edited_by=actor, approved_by="", first_approved_by="", hold_reason=""
        )
    elif action is ReviewAction.APPROVE and decision.step is ApprovalStep.FIRST:
        values.update(first_approved_by=actor)
    elif action is ReviewAction.APPROVE:
        values.update(approved_by=actor)
    elif action is ReviewAction.REJECT:
        values.update(reject_reason=(reason or "").strip())
    elif action is ReviewAction.SNOOZE:
        values.update(snoozed_until=snooze_until)
    elif action is ReviewAction.CANCEL:
        values.update(reject_reason=(reason or "").strip(), held_incident_id=None)
    elif action is ReviewAction.REOPEN:
        values.update(first_approved_by="")  # a crisis reply sent back needs both approvals again
    result = conn.execute(
        update(DRAFT)
        .where(DRAFT.c.id == draft_id, DRAFT.c.status == draft.status.value)
        .values(**values)
    )
    if result.rowcount != 1:
        raise InvalidTransition(f"draft {draft_id} changed while you were looking; reload it")
    before = {"status": draft.status.value, "text": draft.text}
    after = {"status": decision.to.value, "text": text if text is not None else draft.text}
    if decision.step is not None:
        after["approval"] = decision.step.value
    if draft.kind is not DraftKind.ROUTINE:
        after["kind"] = draft.kind.value
    if reason:
        after["reason"] = reason
    conn.execute(
        insert(DRAFT_EVENT).values(
            draft_id=draft_id, at=at, actor=actor, action=action.value, detail=after
        )
    )
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=f"draft.{action.value}",
        entity="draft",
        entity_id=draft_id,
        before=before,
        after=after,
    )
    return get_draft(conn, draft_id)


def draft_history(conn: Connection, draft_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(DRAFT_EVENT).where(DRAFT_EVENT.c.draft_id == draft_id).order_by(DRAFT_EVENT.c.id)
    )
    return [
        {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "detail": r.detail}
        for r in rows
    ]
