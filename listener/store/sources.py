"""What each source remembers between polls, and how healthy it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, select, update

from listener.domain import PollState
from listener.store.bulk import upsert_ignore
from listener.store.mentions import MENTION
from listener.store.tables import SourceRow

SOURCE: Table = SourceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    kind: str
    target: str
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    consecutive_failures: int
    retry_at: datetime | None
    mentions_total: int
    mentions_24h: int
    disabled_reason: str
    health_alerted_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "last_polled_at": iso(self.last_polled_at),
            "last_success": iso(self.last_success_at),
            "last_error": self.last_error or None,
            "last_error_at": iso(self.last_error_at),
            "consecutive_failures": self.consecutive_failures,
            "retry_at": iso(self.retry_at),
            "mentions_total": self.mentions_total,
            "mentions_24h": self.mentions_24h,
            "disabled": self.disabled_reason or None,
        }


def ensure_sources(conn: Connection, sources: list[tuple[str, str, str]]) -> None:
    """Make sure a row exists for each (name, kind, target); existing state is kept."""
    if not sources:
        return
    conn.execute(
        upsert_ignore(conn, SOURCE),
        [{"name": n, "kind": k, "target": t[:2000]} for n, k, t in sources],
    )
    for name, kind, target in sources:
        conn.execute(
            update(SOURCE).where(SOURCE.c.name == name).values(kind=kind, target=target[:2000])
        )


# Built once: every poll asks it, and building the statement cost three times running it.
_POLL_START = select(
    SOURCE.c.retry_at, SOURCE.c.cursor, SOURCE.c.etag, SOURCE.c.last_modified
).where(SOURCE.c.name == bindparam("p_name"))


def poll_start(conn: Connection, name: str) -> tuple[datetime | None, PollState]:
    """What a poll needs first, in one read: until when the source is rate limited, and
    where it left off."""
    row = conn.execute(_POLL_START, {"p_name": name}).first()
    if row is None:
        return None, PollState()
    state = PollState(cursor=row.cursor, etag=row.etag, last_modified=row.last_modified)
    return row.retry_at, state


# A batch's cursor (in the transaction that stored it) and a poll's success mark; executed
# with a list of parameter sets, for every source of a group written together.
_PROGRESS = (
    update(SOURCE)
    .where(SOURCE.c.name == bindparam("p_name"))
    .values(
        cursor=bindparam("p_cursor"),
        etag=bindparam("p_etag"),
        last_modified=bindparam("p_last_modified"),
        mentions_total=SOURCE.c.mentions_total + bindparam("p_new"),
    )
)
_SUCCESS = (
    update(SOURCE)
    .where(SOURCE.c.name == bindparam("p_name"))
    .values(
        last_polled_at=bindparam("p_at"),
        last_success_at=bindparam("p_at"),
        consecutive_failures=0,
        retry_at=None,
        disabled_reason="",
    )
)


def save_many(
    conn: Connection,
    progress: Sequence[tuple[str, PollState, int]],
    successes: Sequence[tuple[str, datetime]],
) -> None:
    """Several sources' progress and success marks, one statement each for all of them (the
    driver sends them in one round trip), for a group of polls written together."""
    if progress:
        conn.execute(
            _PROGRESS,
            [
                {
                    "p_name": name,
                    "p_cursor": state.cursor[:4000],
                    "p_etag": state.etag[:1000],
                    "p_last_modified": state.last_modified[:200],
                    "p_new": new,
                }
                for name, state, new in progress
            ],
        )
    if successes:
        conn.execute(_SUCCESS, [{"p_name": name, "p_at": at} for name, at in successes])


def record_failure(
    conn: Connection, name: str, error: str, at: datetime, retry_at: datetime | None = None
) -> None:
    conn.execute(
        update(SOURCE)
        .where(SOURCE.c.name == name)
        .values(
            last_polled_at=at,
            last_error=error[:4000],
            last_error_at=at,
            consecutive_failures=SOURCE.c.consecutive_failures + 1,
            retry_at=retry_at,
        )
    )


def record_disabled(conn: Connection, name: str, reason: str) -> None:
    conn.execute(update(SOURCE).where(SOURCE.c.name == name).values(disabled_reason=reason[:1000]))


def set_health_alerted(conn: Connection, name: str, at: datetime | None) -> None:
    """Remember that operators were told (or, with None, that the source recovered)."""
    conn.execute(update(SOURCE).where(SOURCE.c.name == name).values(health_alerted_at=at))


def statuses(conn: Connection, now: datetime) -> list[SourceStatus]:
    recent: dict[str, int] = {
        row[0]: int(row[1])
        for row in conn.execute(
            select(MENTION.c.source, func.count())
            .where(MENTION.c.fetched_at >= now - timedelta(hours=24))
            .group_by(MENTION.c.source)
        )
    }
    return [
        _status(row, int(recent.get(row.name, 0)))
        for row in conn.execute(select(SOURCE).order_by(SOURCE.c.name))
    ]


def _status(row: Row[Any], recent: int) -> SourceStatus:
    return SourceStatus(
        name=row.name,
        kind=row.kind,
        target=row.target,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        consecutive_failures=row.consecutive_failures,
        retry_at=row.retry_at,
        mentions_total=row.mentions_total,
        mentions_24h=recent,
        disabled_reason=row.disabled_reason,
        health_alerted_at=row.health_alerted_at,
    )
