"""PostgreSQL planner statistics are refreshed as an import grows tables, off the writer's path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from listener.store import Store
from listener.store.store import TableStatistics


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    store = Store.open(postgres_url)
    yield store
    store.close()


def _analyzes_waiting(conn: Connection) -> int:
    waiting = int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE query ILIKE 'ANALYZE%' AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    )
    # pg_stat_activity is read once per transaction: end it, or every later look sees the
    # first one's answer (a look taken before ANALYZE started waiting then never changes).
    conn.rollback()
    return waiting


def _last_analyze(store: Store) -> object:
    with store.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT last_analyze FROM pg_stat_user_tables "
                "WHERE relname = 'mention' AND schemaname = current_schema()"
            )
        ).scalar_one()


@pytest.mark.postgres
def test_a_writer_crossing_the_threshold_does_not_wait_for_analyze(store: Store) -> None:
    stats = TableStatistics(store.engine, first=10)
    assert _last_analyze(store) is None
    blocker = store.engine.connect()
    transaction = blocker.begin()
    # While this lock is held, ANALYZE cannot start: a writer that ran it itself would hang.
    blocker.execute(text("LOCK TABLE mention IN ACCESS EXCLUSIVE MODE"))
    try:
        stats.grew(4)  # below the threshold: nothing to do
        writer = threading.Thread(target=stats.grew, args=(10,))
        writer.start()
        writer.join(timeout=5)
        assert not writer.is_alive(), "the writer waited for ANALYZE"
        with store.engine.connect() as watch:
            deadline = time.monotonic() + 10
            while _analyzes_waiting(watch) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _analyzes_waiting(watch) == 1
            stats.grew(1_000)  # past the next threshold while one runs: not a second one
            time.sleep(0.2)
            assert _analyzes_waiting(watch) == 1
    finally:
        transaction.rollback()
        blocker.close()
    stats.wait(timeout=30)
    assert _last_analyze(store) is not None


def test_sqlite_needs_no_statistics_refresh(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    try:
        stats = TableStatistics(store.engine, first=1)
        stats.grew(100)
        stats.wait(timeout=1)
        assert not stats.enabled and stats.rows == 0
    finally:
        store.close()


@pytest.mark.postgres
def test_the_refresh_samples_coarsely_and_leaves_the_connection_as_it_was(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, prev_hash, hash) "
                "SELECT now() - make_interval(mins => n), 'test', 'seen', 'mention', n::text, "
                "'', md5(n::text) FROM generate_series(1, 60) AS n"
            )
        )
    stats = TableStatistics(store.engine, first=10)
    stats.grew(60)
    stats.wait(timeout=30)
    with store.engine.connect() as conn:
        bounds = conn.execute(
            text(
                "SELECT array_length(histogram_bounds, 1) FROM pg_stats "
                "WHERE tablename = 'audit_log' AND attname = 'at' "
                "AND schemaname = current_schema()"
            )
        ).scalar_one()
        # 60 distinct times: the server's default target would keep all 60 as bounds.
        assert bounds == TableStatistics.SAMPLE_TARGET + 1
        assert conn.execute(text("SHOW default_statistics_target")).scalar_one() == "100"
