"""Append-only audit log; each record's hash covers the previous one, so edits are detectable.

Writers hold the database's write lock (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock)
while reading the last hash, so two processes never chain onto the same record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, select, text

from listener.store.bulk import insert_rows
from listener.store.tables import AuditRow

AUDIT: Table = AuditRow.__table__  # type: ignore[attr-defined]

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
    return prev_hash


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


def verify(conn: Connection) -> ChainCheck:
    """Recompute the chain from the first record; report the first record that does not fit."""
    prev_hash = GENESIS
    count = 0
    for row in _rows(conn):
        count += 1
        if row.prev_hash != prev_hash:
            return ChainCheck(False, count, row.id, "its link to the previous record is broken")
        expected = _digest(
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
        if expected != row.hash:
            return ChainCheck(False, count, row.id, "its content does not match its hash")
        prev_hash = row.hash
    return ChainCheck(True, count)


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
