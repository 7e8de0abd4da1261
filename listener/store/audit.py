"""Append-only audit log; each record's hash covers the previous one, so edits are detectable.

Writers hold the database's write lock (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock)
while reading the last hash, so two processes never chain onto the same record.

A chain alone cannot show that its newest records were deleted: what is left still links up.
So every append also moves the chain's head (`audit_head`: how many records, the last id and
hash) in the same transaction, and `verify` compares the chain's end with it. Someone who can
write the database can rewrite the head too; a head kept outside the database (`head()`,
exported by `listener audit head`) and passed back to `verify` as `expected` catches that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, func, insert, select, text, update

from listener.store.bulk import insert_rows
from listener.store.tables import AuditHeadRow, AuditRow

AUDIT: Table = AuditRow.__table__  # type: ignore[attr-defined]
HEAD: Table = AuditHeadRow.__table__  # type: ignore[attr-defined]
_HEAD_NAME = "chain"

GENESIS = "0" * 64
_AUDIT_LOCK_KEY = 7_302_911  # arbitrary, constant advisory-lock key for the audit chain


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    records: int
    first_bad_id: int | None = None
    problem: str = ""


@dataclass(frozen=True, slots=True)
class AuditHead:
    """Where the chain ends: how many records, the last one's id and its hash.

    Its text form `records:last_id:hash` is what an operator keeps outside the database.
    """

    records: int
    last_id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.records}:{self.last_id}:{self.hash}"

    def as_dict(self) -> dict[str, object]:
        return {"records": self.records, "last_id": self.last_id, "hash": self.hash}

    @classmethod
    def parse(cls, value: str) -> AuditHead:
        """Read `records:last_id:hash` (as `str()` writes it); ValueError when malformed."""
        parts = value.strip().split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ValueError("an audit head is written records:last_id:hash")
        digest = parts[2].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("an audit head's hash is 64 hexadecimal digits")
        return cls(int(parts[0]), int(parts[1]), digest)


# What `json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"),
# default=str)` builds on every call, built once: the hashed text must never change, and
# constructing the encoder costs a good share of hashing a record.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
)


def _digest(prev_hash: str, row: dict[str, Any], at_text: str | None = None) -> str:
    """The hash of `row` chained to `prev_hash`; `at_text` is `row["at"].isoformat()` when the
    caller already has it (a batch's records mostly share one time)."""
    if at_text is None:
        at_text = row["at"].isoformat()
    payload = _CANONICAL.encode({**row, "at": at_text, "prev": prev_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> str:
    """Add one record inside the caller's transaction; returns its hash."""
    record = {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }
    return append_many(conn, [record])


def append_many(conn: Connection, records: Sequence[dict[str, Any]]) -> str:
    """Add several records in order inside the caller's transaction, in one statement.

    Each record has the keyword arguments of `append` (at, actor, action, entity, and
    optionally entity_id, before, after); the chain is computed in memory, so a batch of a
    thousand costs one lock, one read and one insert instead of a thousand of each. The rows
    go in through `insert_rows`, as one multi-row VALUES list per chunk, which SQLite and
    PostgreSQL number in list order, as the chain requires; Core's per-row parameter
    processing cost more than hashing them. Returns the last record's hash ('' for none).
    """
    if not records:
        return ""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    prev = conn.execute(
        select(AUDIT.c.hash).order_by(AUDIT.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = prev or GENESIS
    rows = []
    last_at, at_text = None, ""
    for record in records:
        if record["at"] is not last_at:
            last_at = record["at"]
            at_text = last_at.isoformat()
        row = {
            "at": last_at,
            "actor": record["actor"],
            "action": record["action"],
            "entity": record["entity"],
            "entity_id": str(record.get("entity_id", "")),
            "before": record.get("before"),
            "after": record.get("after"),
        }
        digest = _digest(prev_hash, row, at_text)
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = digest
        rows.append(row)
    insert_rows(conn, AUDIT, rows)
    _move_head(conn, len(rows), prev_hash)
    return prev_hash


def _move_head(conn: Connection, added: int, last_hash: str) -> None:
    last_id = conn.execute(select(func.max(AUDIT.c.id))).scalar_one()
    moved = conn.execute(
        update(HEAD)
        .where(HEAD.c.name == _HEAD_NAME)
        .values(records=HEAD.c.records + added, last_id=last_id, last_hash=last_hash)
    )
    if moved.rowcount == 0:
        # The first append. (Were the head deleted later, this counts only the new records,
        # so `verify` still sees a chain longer than its head rather than a fresh start.)
        conn.execute(
            insert(HEAD).values(
                name=_HEAD_NAME, records=added, last_id=last_id, last_hash=last_hash
            )
        )


def stored_head(conn: Connection) -> AuditHead | None:
    """The head written with the last append (None before the first)."""
    row = conn.execute(select(HEAD).where(HEAD.c.name == _HEAD_NAME)).first()
    return AuditHead(row.records, row.last_id, row.last_hash) if row is not None else None


def _rows(conn: Connection, batch: int = 5000) -> Iterator[Row[Any]]:
    last_id = 0
    while True:
        rows = conn.execute(
            select(AUDIT).where(AUDIT.c.id > last_id).order_by(AUDIT.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify(conn: Connection, expected: AuditHead | None = None) -> ChainCheck:
    """Recompute the chain from the first record; report the first record that does not fit.

    Then compare where the chain ends with the stored head, and with `expected` (a head kept
    outside the database) when given: records removed from the end are named by id.
    """
    prev_hash = GENESIS
    count = 0
    last_id = 0
    at_expected: str | None = None
    for row in _rows(conn):
        count += 1
        if row.prev_hash != prev_hash:
            return ChainCheck(False, count, row.id, "its link to the previous record is broken")
        expected_hash = _digest(
            prev_hash,
            {
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "entity": row.entity,
                "entity_id": row.entity_id,
                "before": row.before,
                "after": row.after,
            },
        )
        if expected_hash != row.hash:
            return ChainCheck(False, count, row.id, "its content does not match its hash")
        prev_hash = row.hash
        last_id = row.id
        if expected is not None and count == expected.records:
            at_expected = row.hash
            if (row.id, row.hash) != (expected.last_id, expected.hash):
                return ChainCheck(
                    False,
                    count,
                    row.id,
                    f"the head you kept says record {expected.records} is "
                    f"#{expected.last_id} with hash {expected.hash[:16]}…, but it is #{row.id} "
                    f"with hash {row.hash[:16]}…: the chain up to there was rewritten",
                )
    if expected is not None and at_expected is None and expected.records > 0:
        return ChainCheck(
            False,
            count,
            last_id + 1,
            _removed(count, last_id, expected, "the head you kept"),
        )
    head = stored_head(conn)
    if head is None:
        if count:
            return ChainCheck(
                False,
                count,
                None,
                "the chain's head (table audit_head) is missing: it was deleted, so removed "
                "records cannot be ruled out; compare with a head kept outside the database",
            )
        return ChainCheck(True, 0)
    if (count, last_id, prev_hash) == (head.records, head.last_id, head.hash or GENESIS):
        return ChainCheck(True, count)
    if count < head.records:
        return ChainCheck(False, count, last_id + 1, _removed(count, last_id, head, "its head"))
    return ChainCheck(
        False,
        count,
        last_id or None,
        f"the chain ends at #{last_id} after {count} record(s), but its head says "
        f"{head.records} record(s) ending at #{head.last_id}: records were added or replaced "
        "without the audit log's own code, or the head was edited",
    )


def _removed(count: int, last_id: int, head: AuditHead, whose: str) -> str:
    missing = head.records - count
    first = last_id + 1
    span = f"#{first}" if first >= head.last_id else f"#{first} to #{head.last_id}"
    return (
        f"{missing} record(s) removed from the end: {whose} says {head.records} record(s) "
        f"ending at #{head.last_id} (hash {head.hash[:16]}…), but the chain ends at "
        f"{f'#{last_id}' if last_id else 'nothing'} after {count}; missing: {span}"
    )


def head(conn: Connection) -> tuple[ChainCheck, AuditHead]:
    """Verify the chain and return where it ends, for keeping outside the database."""
    check = verify(conn)
    found = stored_head(conn) or AuditHead(0, 0, GENESIS)
    return check, found


def to_record(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        row.id,
        row.at,
        row.actor,
        row.action,
        row.entity,
        row.entity_id,
        row.before,
        row.after,
        row.hash,
    )
