"""One `listener run` per SQLite file: SQLite has one writer, and two services polling the same
sources into one file would only fight over its lock.

The lock is an advisory `flock` on "<database>.lock", held for the life of the process; the
operating system releases it when the process ends, however it ends, so a crash never leaves a
stale lock behind. The file holds the PID of the holder, for the message the next one prints.
PostgreSQL needs no such lock: instances there share the work through source leases.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from listener.errors import StoreError


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if not url.drivername.startswith("sqlite"):
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


@contextlib.contextmanager
def single_instance(database_url: str) -> Iterator[None]:
    """Hold the instance lock of a SQLite database; raise StoreError naming the holder."""
    database = sqlite_file(database_url)
    if database is None:
        yield
        return
    lock_path = database.with_name(database.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create the instance lock {lock_path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            raise StoreError(
                f"another `listener run` (PID {holder or 'unknown'}) is already using {database}; "
                "a SQLite database serves one instance only. Stop that one first, or move to "
                "PostgreSQL to run several (see docs/deploying.md)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
