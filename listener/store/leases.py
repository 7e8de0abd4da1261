"""Source leases in the database: claim, renew and release, safely across instances.

On PostgreSQL a claim selects the due rows `FOR UPDATE SKIP LOCKED`, so instances claiming at
the same moment never wait for each other and never both get a row; the lease columns are then
set in the same transaction. SQLite allows one service instance per file (see
`listener.store.instance_lock`), and there the claim is a single compare-and-set UPDATE, which is
also what makes a manual `listener poll` and the service agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, or_, select, update

from listener.sources.leases import LeaseState
from listener.store.tables import SourceRow

SOURCE: Table = SourceRow.__table__  # type: ignore[attr-defined]


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(SOURCE.c.lease_expires_at.is_(None), SOURCE.c.lease_expires_at <= now)


def claim(
    conn: Connection,
    names: Sequence[str],
    *,
    owner: str,
    now: datetime,
    until: datetime,
    limit: int | None = None,
) -> list[str]:
    """Take the lease of those `names` that are due; returns the names now held by `owner`."""
    if not names:
        return []
    if conn.dialect.name == "postgresql":
        query = (
            select(SOURCE.c.name)
            .where(SOURCE.c.name.in_(list(names)), _due(now))
            .order_by(SOURCE.c.lease_expires_at.asc().nulls_first(), SOURCE.c.name)
            .with_for_update(skip_locked=True)
        )
        if limit is not None:
            query = query.limit(limit)
        chosen = [row[0] for row in conn.execute(query)]
        if chosen:
            conn.execute(
                update(SOURCE)
                .where(SOURCE.c.name.in_(chosen))
                .values(lease_owner=owner, lease_expires_at=until)
            )
        return chosen
    held: list[str] = []
    for name in names:
        if limit is not None and len(held) >= limit:
            break
        result = conn.execute(
            update(SOURCE)
            .where(SOURCE.c.name == name, _due(now))
            .values(lease_owner=owner, lease_expires_at=until)
        )
        if result.rowcount == 1:
            held.append(name)
    return held


def renew(conn: Connection, names: Sequence[str], *, owner: str, until: datetime) -> set[str]:
    """Push the expiry of leases `owner` still holds; returns the names it still holds."""
    if not names:
        return set()
    conn.execute(
        update(SOURCE)
        .where(SOURCE.c.name.in_(list(names)), SOURCE.c.lease_owner == owner)
        .values(lease_expires_at=until)
    )
    rows = conn.execute(
        select(SOURCE.c.name).where(SOURCE.c.name.in_(list(names)), SOURCE.c.lease_owner == owner)
    )
    return {row[0] for row in rows}


def release(conn: Connection, name: str, *, owner: str, not_before: datetime) -> bool:
    """Give the lease up; nobody polls the source again before `not_before` (its next run)."""
    result = conn.execute(
        update(SOURCE)
        .where(SOURCE.c.name == name, SOURCE.c.lease_owner == owner)
        .values(lease_owner="", lease_expires_at=not_before)
    )
    return bool(result.rowcount == 1)


def release_all(conn: Connection, *, owner: str, now: datetime) -> int:
    """On a clean shutdown: leases held right now become free at once for the others."""
    result = conn.execute(
        update(SOURCE)
        .where(SOURCE.c.lease_owner == owner)
        .values(lease_owner="", lease_expires_at=now)
    )
    return int(result.rowcount or 0)


def lease_states(conn: Connection) -> dict[str, LeaseState]:
    rows = conn.execute(select(SOURCE.c.name, SOURCE.c.lease_owner, SOURCE.c.lease_expires_at))
    return {row.name: LeaseState(row.lease_owner, row.lease_expires_at) for row in rows}
