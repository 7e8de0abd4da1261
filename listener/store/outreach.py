"""Queries of outreach after approval: do-not-contact, the dispatch outbox, cases, send log.

Every function takes the caller's `Connection`, so a change and its audit record share one
transaction. `OutreachStore` wraps them in short transactions for the dispatcher, the CLI and
the web pages, without growing the foundation's `Store`.

Authors are compared by `author_key`: lower case, without a leading "@", so "@Dana_Tech",
"dana_tech" and the same handle typed in the page are one person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, delete, func, insert, or_, select, text, update

from listener.domain import Draft, DraftStatus, StoredMention
from listener.errors import InvalidTransition, NotAllowed, NotFound
from listener.outreach.cases import (
    Case,
    CaseStatus,
    check_root_cause,
    check_transition,
)
from listener.outreach.identity import author_key
from listener.outreach.review import ReviewAction
from listener.store import audit
from listener.store.bulk import insert_rows, one_of, upsert_ignore
from listener.store.drafts import apply_action, get_draft
from listener.store.mentions import DRAFT, DRAFT_EVENT, MENTION, mentions_by_ids
from listener.store.outreach_tables import CaseMentionRow, CaseRow, DoNotContactRow, SendLogRow

DNC: Table = DoNotContactRow.__table__  # type: ignore[attr-defined]
CASE: Table = CaseRow.__table__  # type: ignore[attr-defined]
CASE_MENTION: Table = CaseMentionRow.__table__  # type: ignore[attr-defined]
SEND_LOG: Table = SendLogRow.__table__  # type: ignore[attr-defined]

_DISPATCH_LOCK_KEY = 7_302_912  # arbitrary constant advisory-lock key for send claims
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
    conditions = [DRAFT.c.id == draft_id, DRAFT.c.status.in_(list(from_statuses))]
    if claimed_by is not None:
        conditions.append(DRAFT.c.claimed_by == claimed_by)
    result = conn.execute(
        update(DRAFT)
        .where(*conditions)
        .values(
            status=DraftStatus.SENT.value,
            platform_id=platform_id[:200],
            sent_at=at,
            error="",
            hold_reason="",
            needs_check=False,
            next_attempt_at=None,
            updated_at=at,
        )
    )
    if result.rowcount != 1:
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
    conditions = [DRAFT.c.id == draft_id, DRAFT.c.status == DraftStatus.SENDING.value]
    if claimed_by is not None:
        conditions.append(DRAFT.c.claimed_by == claimed_by)
    result = conn.execute(
        update(DRAFT)
        .where(*conditions)
        .values(
            status=DraftStatus.FAILED.value,
            error=error[:4000],
            needs_check=needs_check,
            updated_at=at,
        )
    )
    if result.rowcount != 1:
        return False
    if not needs_check:
        _forget_last_send(conn, draft_id)  # certainly not delivered: no cap for it
    after = {"status": "failed", "error": error, "needs_check": needs_check}
    _record(conn, draft_id, at, actor, "failed", "draft.send_failed", {"status": "sending"}, after)
    return True


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
    result = conn.execute(
        update(DRAFT)
        .where(
            DRAFT.c.id == draft_id,
            DRAFT.c.status == DraftStatus.SENDING.value,
            DRAFT.c.claimed_by == claimed_by,
        )
        .values(
            status=DraftStatus.APPROVED.value,
            hold_reason=reason[:2000],
            next_attempt_at=retry_at,
            claimed_by="",
            claimed_at=None,
            updated_at=at,
        )
    )
    if result.rowcount != 1:
        return False
    _forget_last_send(conn, draft_id)  # it reached no one: no cap or rate for it
    after = {"status": "approved", "reason": reason, "retry_at": retry_at.isoformat()}
    _record(conn, draft_id, at, actor, "retry", "draft.send_retry", {"status": "sending"}, after)
    return True


# -- cases -----------------------------------------------------------------------------------


def _case(conn: Connection, row: Row[Any], *, links: bool = True) -> Case:
    mention_ids: tuple[int, ...] = ()
    if links:
        mention_ids = tuple(
            r[0]
            for r in conn.execute(
                select(CASE_MENTION.c.mention_id)
                .where(CASE_MENTION.c.case_id == row.id)
                .order_by(CASE_MENTION.c.mention_id)
            )
        )
    draft_ids: tuple[int, ...] = ()
    if mention_ids:
        draft_ids = tuple(
            r[0]
            for r in conn.execute(
                select(DRAFT.c.id)
                .where(DRAFT.c.mention_id.in_(list(mention_ids)))
                .order_by(DRAFT.c.id)
            )
        )
    return Case(
        id=row.id,
        brand=row.brand,
        author=row.author,
        status=CaseStatus(row.status),
        owner=row.owner,
        root_cause=row.root_cause,
        notes=tuple(row.notes or ()),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        sla_breach_alerted_at=row.sla_breach_alerted_at,
        mention_ids=mention_ids,
        draft_ids=draft_ids,
        author_email=row.author_email,
    )


def get_case(conn: Connection, case_id: int) -> Case:
    row = conn.execute(select(CASE).where(CASE.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"there is no case {case_id}")
    return _case(conn, row)


def list_cases(
    conn: Connection, *, brand: str = "", status: str = "", open_only: bool = False
) -> list[Case]:
    query = select(CASE).order_by(CASE.c.opened_at.desc(), CASE.c.id.desc())
    if brand:
        query = query.where(CASE.c.brand == brand)
    if status and status != "all":
        query = query.where(CASE.c.status == status)
    if open_only:
        query = query.where(CASE.c.open_slot == "open")
    return [_case(conn, r) for r in conn.execute(query)]


def cases_to_check_for_sla(conn: Connection, *, opened_before: datetime) -> list[Case]:
    """Open cases old enough to have missed a target and not alerted yet (without links)."""
    rows = conn.execute(
        select(CASE)
        .where(
            CASE.c.open_slot == "open",
            CASE.c.sla_breach_alerted_at.is_(None),
            CASE.c.opened_at < opened_before,
        )
        .order_by(CASE.c.id)
    )
    return [_case(conn, r, links=False) for r in rows]


def open_cases_for(
    conn: Connection, stored: Sequence[StoredMention], *, at: datetime, actor: str = "listener"
) -> list[int]:
    """Open (or extend) the case of each dissatisfied author; safe to run twice on a mention.

    Works on the whole batch at once (one lookup, bulk inserts, one audit append), because
    it runs after every stored batch and per-mention statements dominated ingest time.
    """
    wanted: list[tuple[StoredMention, tuple[str, str]]] = []
    for item in stored:
        if not item.score.dissatisfied:
            continue
        key = author_key(item.mention.author) or author_key(item.mention.author_email)
        if key:
            wanted.append((item, (item.brand, key)))
    if not wanted:
        return []
    pairs = {pair for _, pair in wanted}
    cases = _open_case_ids(conn, pairs)
    missing = [p for p in pairs if p not in cases]
    created: set[int] = set()
    if missing:
        emails = {pair: item.mention.author_email for item, pair in wanted}
        no_notes: list[dict[str, Any]] = []  # one object: `insert_rows` converts it once
        rows = insert_rows(
            conn,
            CASE,
            [
                {
                    "brand": brand,
                    "author": author,
                    "author_email": emails[(brand, author)][:400],
                    "status": CaseStatus.NEW.value,
                    "open_slot": "open",
                    "owner": "",
                    "root_cause": "",
                    "notes": no_notes,
                    "opened_at": at,
                    "updated_at": at,
                }
                for brand, author in sorted(missing)
            ],
            ignore_conflicts=True,
            returning=("id", "brand", "author"),
        )
        for case_id, brand, author in rows:
            cases[(brand, author)] = int(case_id)
            created.add(int(case_id))
        if len(cases) < len(pairs):  # another instance opened some between look and insert
            cases.update(_open_case_ids(conn, {p for p in pairs if p not in cases}))
    links = insert_rows(
        conn,
        CASE_MENTION,
        [{"case_id": cases[pair], "mention_id": item.id, "linked_at": at} for item, pair in wanted],
        ignore_conflicts=True,
        returning=("case_id", "mention_id"),
    )
    linked = {(int(case_id), int(mention_id)) for case_id, mention_id in links}
    records: list[dict[str, Any]] = []
    touched: list[int] = []
    announced: set[int] = set()
    for item, pair in wanted:
        case_id = cases[pair]
        if case_id in created and case_id not in announced:
            announced.add(case_id)
            records.append(
                {
                    "at": at,
                    "actor": actor,
                    "action": "case.open",
                    "entity": "case",
                    "entity_id": case_id,
                    "after": {
                        "brand": pair[0],
                        "author": pair[1],
                        "status": "new",
                        "mention_id": item.id,
                    },
                }
            )
        elif (case_id, item.id) in linked:
            records.append(
                {
                    "at": at,
                    "actor": actor,
                    "action": "case.link_mention",
                    "entity": "case",
                    "entity_id": case_id,
                    "after": {"mention_id": item.id},
                }
            )
        else:
            continue
        touched.append(case_id)
    audit.append_many(conn, records)
    return touched


def _open_case_ids(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The open case of each (brand, author) pair that has one.

    Asked brand by brand, so each author is a seek in the unique (brand, author, open_slot)
    index; asked by author alone, every query read the whole case table.
    """
    by_brand: dict[str, list[str]] = {}
    for brand, author in pairs:
        by_brand.setdefault(brand, []).append(author)
    found: dict[tuple[str, str], int] = {}
    for brand, authors in sorted(by_brand.items()):
        authors.sort()
        for start in range(0, len(authors), 500):
            rows = conn.execute(
                select(CASE.c.id, CASE.c.author).where(
                    CASE.c.brand == brand,
                    one_of(conn, CASE.c.author, authors[start : start + 500]),
                    CASE.c.open_slot == "open",
                )
            )
            for case_id, author in rows:
                found[(brand, author)] = int(case_id)
    return found


def first_response_change(
    conn: Connection, mention_id: int, *, at: datetime
) -> dict[str, Any] | None:
    """Record a case's first response (a new case becomes responded); returns the audit
    record's fields for the caller to append, or None when nothing changed."""
    row = conn.execute(
        select(CASE)
        .join(CASE_MENTION, CASE_MENTION.c.case_id == CASE.c.id)
        .where(CASE_MENTION.c.mention_id == mention_id)
    ).first()
    if row is None or row.first_response_at is not None:
        return None
    values: dict[str, Any] = {"first_response_at": at, "updated_at": at}
    status = CaseStatus(row.status)
    if status in (CaseStatus.NEW, CaseStatus.INVESTIGATING):
        values["status"] = CaseStatus.RESPONDED.value
    conn.execute(update(CASE).where(CASE.c.id == row.id).values(**values))
    return {
        "action": "case.first_response",
        "entity": "case",
        "entity_id": row.id,
        "before": {"status": row.status, "first_response_at": None},
        "after": {"status": values.get("status", row.status), "first_response_at": at.isoformat()},
    }


def update_case(
    conn: Connection,
    case_id: int,
    *,
    actor: str,
    at: datetime,
    status: str | None = None,
    owner: str | None = None,
    root_cause: str | None = None,
    note: str | None = None,
) -> Case:
    """Change a case as a person asked; each change is audited with before and after."""
    row = conn.execute(select(CASE).where(CASE.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"there is no case {case_id}")
    values: dict[str, Any] = {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if status is not None:
        try:
            wanted = CaseStatus(status.strip().lower())
        except ValueError:
            raise NotAllowed(
                f"case status {status!r} is unknown; expected one of "
                + ", ".join(s.value for s in CaseStatus)
            ) from None
        current = CaseStatus(row.status)
        check_transition(current, wanted)
        if wanted != current:
            values["status"] = wanted.value
            if not wanted.is_open:
                values["resolved_at"] = at
                values["open_slot"] = f"closed:{case_id}"
            elif not current.is_open:
                _check_can_reopen(conn, row)
                values["resolved_at"] = None
                values["open_slot"] = "open"
            before["status"], after["status"] = current.value, wanted.value
    if owner is not None and owner.strip() != row.owner:
        values["owner"] = owner.strip()[:200]
        before["owner"], after["owner"] = row.owner, values["owner"]
    if root_cause is not None:
        tag = check_root_cause(root_cause) if root_cause.strip() else ""
        if tag != row.root_cause:
            values["root_cause"] = tag
            before["root_cause"], after["root_cause"] = row.root_cause, tag
    if note is not None and note.strip():
        notes = [*(row.notes or []), {"at": at.isoformat(), "by": actor, "text": note.strip()}]
        values["notes"] = notes
        after["note"] = note.strip()
    if not values:
        return _case(conn, row)
    values["updated_at"] = at
    conn.execute(update(CASE).where(CASE.c.id == case_id).values(**values))
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="case.update",
        entity="case",
        entity_id=case_id,
        before=before,
        after=after,
    )
    return get_case(conn, case_id)


def _check_can_reopen(conn: Connection, row: Row[Any]) -> None:
    other = conn.execute(
        select(CASE.c.id).where(
            CASE.c.brand == row.brand,
            CASE.c.author == row.author,
            CASE.c.open_slot == "open",
            CASE.c.id != row.id,
        )
    ).scalar_one_or_none()
    if other is not None:
        raise InvalidTransition(
            f"case {other} is already open for {row.author} at {row.brand}; update that one"
        )


def mark_breach_alerted(
    conn: Connection, case: Case, *, kinds: Sequence[str], at: datetime
) -> bool:
    """Note that a case's SLA breach was alerted; False when another instance already did."""
    result = conn.execute(
        update(CASE)
        .where(CASE.c.id == case.id, CASE.c.sla_breach_alerted_at.is_(None))
        .values(sla_breach_alerted_at=at)
    )
    if result.rowcount != 1:
        return False
    audit.append(
        conn,
        at=at,
        actor="listener",
        action="case.sla_breach",
        entity="case",
        entity_id=case.id,
        after={"breaches": list(kinds), "brand": case.brand, "author": case.author},
    )
    return True
