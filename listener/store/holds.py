"""Crisis mode in the database: an incident's outreach hold, the drafts held under it, and a
person's bulk release or cancel. The rule of when an incident holds is
`listener.incidents.holds`; every change here is a draft event, an incident event where a
person or the rule acted, and an audit record, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from listener.domain import Channel, Draft, DraftKind, DraftStatus
from listener.errors import InvalidTransition
from listener.incidents.holds import (
    OutreachHold,
    hold_reason,
    holds_outreach,
    rule_hold,
)
from listener.outreach.claims import IncidentHold
from listener.outreach.echo import SentReply
from listener.outreach.review import ReviewAction
from listener.store import audit
from listener.store.drafts import apply_action, row_to_draft
from listener.store.incidents import ACTIVE, INCIDENT, INCIDENT_MENTION, add_event, get
from listener.store.mentions import DRAFT, DRAFT_EVENT, MENTION

# What the severity rule and a person's hold take out of the routine queue: routine replies not
# yet approved. Approved ones are held at send time (`decide_send`), with the incident's reason.
# Crisis replies (to amplifiers a crisis approver picked) are how the brand speaks during the
# incident, so the hold never takes them.
HOLDABLE = (DraftStatus.PENDING.value, DraftStatus.SNOOZED.value)
# The newest replies the echo check compares a send with: a bound on the work under the lock.
RECENT_SENDS_LIMIT = 500


@dataclass(frozen=True, slots=True)
class HeldDraft:
    """A draft held under an incident, with who it is for."""

    draft: Draft
    author: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.draft.id,
            "mention_id": self.draft.mention_id,
            "author": self.author,
            "recipient": self.draft.recipient,
            "channel": self.draft.channel.value,
            "text": self.draft.text,
            "reason": self.draft.hold_reason,
            "approved_by": self.draft.approved_by or None,
            "updated_at": self.draft.updated_at.isoformat(),
        }


def _reason_for(conn: Connection, incident_id: int) -> str:
    row = conn.execute(
        select(INCIDENT.c.type, INCIDENT.c.brand, INCIDENT.c.severity).where(
            INCIDENT.c.id == incident_id
        )
    ).one()
    return hold_reason(incident_id, row.type, row.brand, row.severity)


def hold_draft(
    conn: Connection,
    draft: Draft,
    *,
    incident_id: int,
    reason: str,
    actor: str,
    at: datetime,
) -> bool:
    """One draft → held under the incident (compare-and-set on its status), with its history
    event and audit record; False when it had moved on meanwhile."""
    done = conn.execute(
        update(DRAFT)
        .where(DRAFT.c.id == draft.id, DRAFT.c.status == draft.status.value)
        .values(
            status=DraftStatus.HELD.value,
            held_incident_id=incident_id,
            hold_reason=reason[:2000],
            next_attempt_at=None,
            updated_at=at,
        )
    ).rowcount
    if done != 1:
        return False
    after = {"status": DraftStatus.HELD.value, "incident_id": incident_id, "reason": reason}
    conn.execute(
        insert(DRAFT_EVENT).values(
            draft_id=draft.id, at=at, actor=actor, action="held", detail=after
        )
    )
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="draft.held",
        entity="draft",
        entity_id=draft.id,
        before={"status": draft.status.value},
        after=after,
    )
    return True


def hold_incident_drafts(
    conn: Connection, incident_id: int, *, actor: str, at: datetime
) -> list[int]:
    """Hold the pending and snoozed drafts of the incident's mentions; their ids."""
    rows = conn.execute(
        select(DRAFT)
        .select_from(
            DRAFT.join(INCIDENT_MENTION, INCIDENT_MENTION.c.mention_id == DRAFT.c.mention_id)
        )
        .where(
            INCIDENT_MENTION.c.incident_id == incident_id,
            DRAFT.c.status.in_(HOLDABLE),
            DRAFT.c.kind == DraftKind.ROUTINE.value,
        )
        .order_by(DRAFT.c.id)
    ).all()
    if not rows:
        return []
    reason = _reason_for(conn, incident_id)
    return [
        row.id
        for row in rows
        if hold_draft(
            conn, row_to_draft(row), incident_id=incident_id, reason=reason, actor=actor, at=at
        )
    ]


def apply_rule(
    conn: Connection, incident_id: int, crisis_severity: str, *, at: datetime
) -> tuple[bool, list[int]]:
    """The detection step's part: hold the incident once it reaches the crisis severity (unless
    a person chose otherwise), then hold its mentions' waiting drafts while it holds.

    Returns (held now, ids of the drafts held by this call). Running it again holds nothing
    twice: a held draft is no longer pending.
    """
    row = conn.execute(
        select(
            INCIDENT.c.outreach_hold, INCIDENT.c.severity, INCIDENT.c.status, INCIDENT.c.brand
        ).where(INCIDENT.c.id == incident_id)
    ).one()
    hold = rule_hold(row.outreach_hold, row.severity, crisis_severity)
    if hold != row.outreach_hold and row.status in ACTIVE:
        conn.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id, INCIDENT.c.outreach_hold == row.outreach_hold)
            .values(outreach_hold=hold)
        )
        reason = (
            f"{row.severity} is at or above the crisis severity ({crisis_severity}): routine "
            f"outreach for {row.brand} is on hold"
        )
        _record_hold_change(
            conn, incident_id, "listener", at, "outreach held", row.outreach_hold, hold, reason
        )
    if not holds_outreach(hold, row.status):
        return False, []
    return True, hold_incident_drafts(conn, incident_id, actor="listener", at=at)


def _record_hold_change(
    conn: Connection,
    incident_id: int,
    actor: str,
    at: datetime,
    event: str,
    before: str,
    after: str,
    reason: str,
    **detail: Any,
) -> None:
    add_event(conn, incident_id, at, actor, event, {"reason": reason, **detail})
    audit.append(
        conn,
        at=at,
        actor=actor,
        action=f"incident.{event.replace(' ', '_')}",
        entity="incident",
        entity_id=str(incident_id),
        before={"outreach_hold": before or None},
        after={"outreach_hold": after or None, "reason": reason, **detail},
    )


def hold_by_person(
    conn: Connection, incident_id: int, *, actor: str, at: datetime
) -> tuple[str, list[int]]:
    """A person holds the incident's outreach, at any severity: its mentions' waiting drafts
    are held now, and later ones as they join. Returns (the hold, held draft ids)."""
    incident = get(conn, incident_id)
    if incident.status not in ACTIVE:
        raise InvalidTransition(
            f"incident {incident_id} is {incident.status}; only an active incident holds replies"
        )
    if incident.outreach_hold == OutreachHold.ON:
        raise InvalidTransition(f"incident {incident_id}'s outreach is already on hold")
    conn.execute(
        update(INCIDENT)
        .where(INCIDENT.c.id == incident_id)
        .values(outreach_hold=OutreachHold.ON.value, updated_at=at)
    )
    held = hold_incident_drafts(conn, incident_id, actor=actor, at=at)
    _record_hold_change(
        conn,
        incident_id,
        actor,
        at,
        "outreach held",
        incident.outreach_hold,
        OutreachHold.ON.value,
        f"held by {actor}: routine outreach for {incident.brand} is on hold; "
        f"{len(held)} repl{'y' if len(held) == 1 else 'ies'} held now",
        drafts=held,
    )
    return OutreachHold.ON.value, held


def release(conn: Connection, incident_id: int, *, actor: str, at: datetime) -> list[int]:
    """A person releases the incident's held replies to the review queue (pending, approval
    cleared: someone reviews each again in the light of the incident). The incident stays
    released (new replies go to the queue) until a person holds it again."""
    incident = get(conn, incident_id)
    held = _held_rows(conn, incident_id)
    if not held and not holds_outreach(incident.outreach_hold, incident.status):
        raise InvalidTransition(f"incident {incident_id} holds no replies; nothing to release")
    note = f"released from incident #{incident_id}: read the incident before approving it"
    released: list[int] = []
    for row in held:
        done = conn.execute(
            update(DRAFT)
            .where(DRAFT.c.id == row.id, DRAFT.c.status == DraftStatus.HELD.value)
            .values(
                status=DraftStatus.PENDING.value,
                approved_by="",
                held_incident_id=None,
                hold_reason=note,
                updated_at=at,
            )
        ).rowcount
        if done != 1:
            continue
        after = {"status": DraftStatus.PENDING.value, "incident_id": incident_id}
        conn.execute(
            insert(DRAFT_EVENT).values(
                draft_id=row.id, at=at, actor=actor, action="released", detail=after
            )
        )
        audit.append(
            conn,
            at=at,
            actor=actor,
            action="draft.released",
            entity="draft",
            entity_id=row.id,
            before={"status": DraftStatus.HELD.value, "approved_by": row.approved_by or None},
            after=after,
        )
        released.append(row.id)
    if incident.outreach_hold != OutreachHold.RELEASED:
        conn.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id)
            .values(outreach_hold=OutreachHold.RELEASED.value, updated_at=at)
        )
    _record_hold_change(
        conn,
        incident_id,
        actor,
        at,
        "outreach released",
        incident.outreach_hold,
        OutreachHold.RELEASED.value,
        f"released by {actor}: {len(released)} repl{'y' if len(released) == 1 else 'ies'} "
        "back in the review queue",
        drafts=released,
    )
    return released


def cancel_held(
    conn: Connection, incident_id: int, *, actor: str, at: datetime, reason: str = ""
) -> list[int]:
    """A person cancels every reply held under the incident (each audited as a cancel)."""
    get(conn, incident_id)  # NotFound for a wrong id
    held = _held_rows(conn, incident_id)
    if not held:
        raise InvalidTransition(f"incident {incident_id} holds no replies; nothing to cancel")
    why = reason.strip() or f"cancelled with the replies held under incident #{incident_id}"
    cancelled = []
    for row in held:
        apply_action(conn, row.id, ReviewAction.CANCEL, actor=actor, at=at, reason=why)
        cancelled.append(row.id)
    add_event(
        conn,
        incident_id,
        at,
        actor,
        "held replies cancelled",
        {"reason": why, "drafts": cancelled},
    )
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="incident.held_cancelled",
        entity="incident",
        entity_id=str(incident_id),
        before={"held": len(cancelled)},
        after={"held": 0, "reason": why, "drafts": cancelled},
    )
    return cancelled


def _held_rows(conn: Connection, incident_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(DRAFT.c.id, DRAFT.c.approved_by)
            .where(
                DRAFT.c.held_incident_id == incident_id,
                DRAFT.c.status == DraftStatus.HELD.value,
            )
            .order_by(DRAFT.c.id)
        )
    )


def held_drafts(conn: Connection, incident_id: int) -> list[HeldDraft]:
    rows = conn.execute(
        select(DRAFT, MENTION.c.author.label("mention_author"))
        .select_from(DRAFT.join(MENTION, MENTION.c.id == DRAFT.c.mention_id))
        .where(DRAFT.c.held_incident_id == incident_id, DRAFT.c.status == DraftStatus.HELD.value)
        .order_by(DRAFT.c.id)
    ).all()
    return [HeldDraft(row_to_draft(r), r.mention_author) for r in rows]


def held_counts(conn: Connection) -> dict[int, int]:
    """How many replies each incident holds (incidents holding none are left out)."""
    rows = conn.execute(
        select(DRAFT.c.held_incident_id, func.count())
        .where(DRAFT.c.status == DraftStatus.HELD.value, DRAFT.c.held_incident_id.is_not(None))
        .group_by(DRAFT.c.held_incident_id)
    )
    return {int(i): int(n) for i, n in rows}


def count_held(conn: Connection, incident_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                DRAFT.c.held_incident_id == incident_id,
                DRAFT.c.status == DraftStatus.HELD.value,
            )
        ).scalar_one()
    )


# -- what the send rule reads ------------------------------------------------------------------


def author_holds(conn: Connection, brand: str, keys: Sequence[str]) -> list[IncidentHold]:
    """Active incidents of `brand` holding outreach with a mention by this author (by handle
    or email address, as the do-not-contact list compares them)."""
    wanted = [k for k in keys if k]
    if not wanted:
        return []
    handle = func.lower(MENTION.c.author)
    rows = conn.execute(
        select(INCIDENT.c.id, INCIDENT.c.type, INCIDENT.c.brand, INCIDENT.c.severity)
        .select_from(
            INCIDENT.join(INCIDENT_MENTION, INCIDENT_MENTION.c.incident_id == INCIDENT.c.id).join(
                MENTION, MENTION.c.id == INCIDENT_MENTION.c.mention_id
            )
        )
        .where(
            INCIDENT.c.brand == brand,
            INCIDENT.c.status.in_(ACTIVE),
            INCIDENT.c.outreach_hold.in_([OutreachHold.AUTO.value, OutreachHold.ON.value]),
            or_(
                handle.in_(wanted),
                handle.in_([f"@{k}" for k in wanted]),
                func.lower(MENTION.c.author_email).in_(wanted),
            ),
        )
        .group_by(INCIDENT.c.id, INCIDENT.c.type, INCIDENT.c.brand, INCIDENT.c.severity)
        .order_by(INCIDENT.c.id)
    ).all()
    return [IncidentHold(r.id, hold_reason(r.id, r.type, r.brand, r.severity)) for r in rows]


def recent_sends(conn: Connection, draft: Draft, since: datetime) -> list[SentReply]:
    """The brand's replies sent (or being sent) to other recipients since `since`."""
    when = func.coalesce(DRAFT.c.sent_at, DRAFT.c.claimed_at)
    conditions = [
        DRAFT.c.brand == draft.brand,
        DRAFT.c.id != draft.id,
        DRAFT.c.status.in_([DraftStatus.SENT.value, DraftStatus.SENDING.value]),
        when > since,
    ]
    if draft.recipient:  # the same person is the frequency cap's business, not an echo
        conditions.append(DRAFT.c.recipient != draft.recipient)
    rows = conn.execute(
        select(
            DRAFT.c.id,
            DRAFT.c.channel,
            DRAFT.c.recipient,
            DRAFT.c.text,
            when.label("at"),
            MENTION.c.author,
            MENTION.c.author_name,
        )
        .select_from(DRAFT.join(MENTION, MENTION.c.id == DRAFT.c.mention_id))
        .where(*conditions)
        .order_by(DRAFT.c.id.desc())
        .limit(RECENT_SENDS_LIMIT)
    ).all()
    # On X a reply's recipient is the post it answers: the echo's reason names the person.
    return [
        SentReply(
            r.id,
            (r.author or r.recipient)
            if r.channel == Channel.X.value
            else (r.recipient or r.author),
            r.author_name or "",
            r.text,
            r.at,
        )
        for r in rows
    ]
