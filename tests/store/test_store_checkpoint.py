"""SQLite's write-ahead log is copied into the database by a background thread, not by the
commit that happens to take it past 1,000 pages (see `listener.store.checkpoint`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from listener.store import Store, audit
from listener.store.checkpoint import WRITER_AUTOCHECKPOINT, WalCheckpointer


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoint" and t.is_alive()]


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_writes_leave_the_checkpoint_to_the_background_thread(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        with store._read() as conn:
            limit = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        assert limit == WRITER_AUTOCHECKPOINT  # writers only checkpoint as a safety net
        assert store.checkpointer is not None
        assert not _checkpoint_threads()  # migrations and reads do not start it
        for n in range(20):
            with store._write() as conn:
                audit.append_many(
                    conn,
                    [
                        {"at": datetime.now(UTC), "actor": "t", "action": "x", "entity": str(i)}
                        for i in range(n * 50, n * 50 + 50)
                    ],
                )
        checkpointer = store.checkpointer
        assert _wait_for(lambda: checkpointer.runs >= 1), "no background checkpoint ran"
        assert checkpointer.failures == 0
        with store._read() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1000
            assert audit.verify(conn).ok
    finally:
        store.close()
    assert not _checkpoint_threads()


def test_a_checkpoint_that_fails_is_counted_and_the_thread_goes_on(tmp_path: Path) -> None:
    junk = tmp_path / "not-a-database.db"
    junk.write_bytes(b"this is not a SQLite file" * 100)
    checkpointer = WalCheckpointer(str(junk), every=0.05)
    checkpointer.start()
    try:
        assert _wait_for(lambda: checkpointer.failures >= 2)
        assert _checkpoint_threads()
    finally:
        checkpointer.close()
    assert not _checkpoint_threads()
    assert checkpointer.runs == 0


def test_only_sqlite_files_get_a_checkpointer(tmp_path: Path) -> None:
    memory = Store.open("sqlite://")
    try:
        assert memory.checkpointer is None
    finally:
        memory.close()
    uri = Store.open(f"sqlite:///file:{tmp_path / 'u.db'}?uri=true")
    try:
        assert uri.checkpointer is None
    finally:
        uri.close()
