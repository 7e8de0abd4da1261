"""Complaint cases: one open case per dissatisfied author and brand, its mentions and drafts,
status changes, first response and SLA breach marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, select, update

from listener.domain import StoredMention
from listener.errors import InvalidTransition, NotAllowed, NotFound
from listener.outreach.cases import (
    Case,
    CaseStatus,
    check_root_cause,
    check_transition,
)
from listener.outreach.identity import author_key
from listener.store import audit
from listener.store.bulk import insert_rows, one_of
from listener.store.mentions import DRAFT
from listener.store.outreach_tables import CaseMentionRow, CaseRow

CASE: Table = CaseRow.__table__  # type: ignore[attr-defined]
CASE_MENTION: Table = CaseMentionRow.__table__  # type: ignore[attr-defined]


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
