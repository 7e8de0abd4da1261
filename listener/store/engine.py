"""Create the database engine and bring its schema up to date.

SQLite gets WAL, a busy timeout and foreign keys on every connection (one writer, many
readers); any other SQLAlchemy URL is used as given. Migrations (Alembic) run on open, so a
fresh file and an old one both end at the current schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from listener.errors import StoreError
from listener.store.bulk import as_json
from listener.store.checkpoint import WRITER_AUTOCHECKPOINT

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATE_LOCK = 7_302_910  # arbitrary constant advisory-lock key for schema migrations


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_in_memory(url: URL) -> bool:
    """A SQLite URL naming no file: `sqlite://`, `sqlite:///:memory:` or a memory URI."""
    database = url.database or ""
    return not database or ":memory:" in database


def make_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> Engine:
    """An engine for `url`; SQLite connections are tuned for one writer and many readers.

    `pool_size` should cover the threads that use the store at once (concurrent polls plus the
    service's other jobs); a poll waiting for a connection is a poll not done.
    """
    try:
        if is_sqlite(url):
            # Pooled, not one connection per transaction: closing the last connection to a WAL
            # database checkpoints and fsyncs, which would make every small write wait for the
            # disk. As many kept as there are threads using the store: a connection beyond the
            # pool is opened, tuned and closed again for every transaction, which many
            # concurrent polls would pay for again and again.
            pool: dict[str, Any] = (
                {"pool_size": max(pool_size or 8, 8), "max_overflow": -1}
                if not sqlite_in_memory(make_url(url))
                else {}  # an in-memory database: one connection per thread
            )
            engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30},
                json_serializer=as_json,
                **pool,
            )
            event.listen(engine, "connect", _tune_sqlite)
            event.listen(engine, "begin", _begin)
        else:
            engine = create_engine(
                url,
                echo=echo,
                pool_pre_ping=True,
                pool_size=max(pool_size or 10, 1),
                json_serializer=as_json,
            )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot use database URL {redact(url)!r}: {exc}") from exc
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN; we issue it ourselves (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # The store's checkpoint thread copies the log; a writer does it only past 64 MiB.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
    cursor.close()


def _begin(connection: Any) -> None:
    # A writing transaction (execution option write=True, see Store.write) takes the lock up
    # front with BEGIN IMMEDIATE, so two writers queue on busy_timeout instead of failing with
    # "database is locked" when a read upgrades; readers stay lock-free under WAL.
    write = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration (up to `revision`); raise StoreError saying what failed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection_url"] = engine.url
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several instances starting at once must not race to create the same tables.
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StoreError(unreachable(engine.url, "checking and migrating its schema", exc)) from exc
    except DBAPIError as exc:
        raise StoreError(
            f"cannot migrate database {redact(str(engine.url))!r}: {first_line(exc.orig)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate database {redact(str(engine.url))!r}: {exc}") from exc


def first_line(error: object) -> str:
    """The first line of a driver's message (they go on with hints and SQL)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


_SERVER_PREFIX = re.compile(
    r"^(connection failed: )?connection to server at [^,]+, port \d+ failed: "
)


def unreachable(url: URL, doing: str, exc: DBAPIError) -> str:
    """One line for a database that did not answer: where it was and what we were doing."""
    reason = _SERVER_PREFIX.sub("", first_line(exc.orig))
    if url.get_backend_name() == "sqlite":
        return f"cannot use the SQLite database {url.database!r} while {doing}: {reason}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return (
        f"cannot reach the database at {where} ({url.database or 'default database'}) while "
        f"{doing}: {reason}; is the server running and the URL in database.url right?"
    )


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
