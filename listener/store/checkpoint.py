"""Copies SQLite's write-ahead log into the database file on a thread of its own.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that
writer copies the log into the database file and waits for the disk, while every other
writer waits for it. Once a store holds a few hundred thousand mentions a batch dirties
pages all over its indexes, and these checkpoints become a large share of storing time. Here
a daemon thread runs a PASSIVE
checkpoint (never blocks readers or writers) every half second, so commits only append to
the log; writers keep a far-off automatic checkpoint (64 MiB) as the safety net should this
thread fall behind or die. It starts with the store's first write, so read-only commands
never start it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("listener.store")

# Writers' own automatic checkpoint, in pages: only reached if the thread cannot keep up.
WRITER_AUTOCHECKPOINT = 16_384


class WalCheckpointer:
    """A background PASSIVE checkpoint of one SQLite database file, every `every` seconds."""

    def __init__(self, path: str, *, every: float = 0.5) -> None:
        self.path = path
        self.every = every
        self.runs = 0  # checkpoints that copied at least one page
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread once; later calls do nothing (cheaply: every write calls this)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread (it finishes a checkpoint in progress first)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("background checkpoints of %s are off: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.every):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # writers still checkpoint themselves past the limit
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("background checkpoint of %s failed: %s", self.path, exc)
            return
        # (busy, pages in the log, pages copied); busy is 1 when another process's checkpoint
        # holds the lock: it is doing this work, nothing is wrong.
        if row is not None and row[2] > 0:
            self.runs += 1
