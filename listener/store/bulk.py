"""Multi-row INSERT for the ingest hot path, with values converted once per column.

SQLAlchemy Core spends most of a bulk insert building and processing each row's parameters
(profiled: ~75% of storing a 2,000-mention batch on SQLite went to `construct_params` and the
bind processors, not to the database). Here a statement is written for the table and dialect
(quoted by the dialect's own preparer), every row's values pass through one plain converter
per column, and the rows go to the driver as one multi-row `INSERT … VALUES (…), (…)` per
chunk, with `ON CONFLICT DO NOTHING` and `RETURNING` when asked; both SQLite (3.35+) and
PostgreSQL accept that form. On PostgreSQL (psycopg) the rows go in by binary `COPY` instead,
whose rows psycopg encodes in C: an `unnest()` of one array per column is encoded element by
element in Python, a large share of an import's client time.

The converters store exactly what SQLAlchemy stores for the same column, so rows written here
read back through the ordinary Core queries unchanged (the store tests read them that way).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import orjson
import psycopg
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from listener.store.types import UTCDateTime

Convert = Callable[[Any], Any]
_UNSEEN = object()

# SQLite before 3.32 allowed 999 parameters per statement, later versions 32,766;
# PostgreSQL allows 65,535.
_MAX_PARAMS = {"sqlite": 999 if sqlite3.sqlite_version_info < (3, 32) else 32_000}
_DEFAULT_MAX_PARAMS = 30_000
_PG_ROWS = 5000  # rows per unnest() statement
# Fewer rows than this go by unnest() even where COPY could take them: COPY saves client and
# server CPU on every row but costs more round trips (the ids first; a savepoint where
# conflicts are skipped), so it only pays from a few dozen rows; a feed poll brings a few.
_COPY_MIN_ROWS = 32
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}

# PostgreSQL column types that binary COPY is given as psycopg dumps them, by type oid, and
# the oid to dump the value as: varchar and json travel as text (the same bytes on the wire:
# json's binary form is its text, and the converters already made it JSON text).
_TEXT_OID = 25
_COPY_AS_OID = {
    16: 16,  # boolean
    20: 20,  # bigint
    23: 23,  # integer
    25: _TEXT_OID,
    114: _TEXT_OID,  # json
    701: 701,  # double precision
    1043: _TEXT_OID,  # varchar
    1184: 1184,  # timestamp with time zone
}
# Integer column types and the values they hold: psycopg's binary COPY writes a Python int
# into four or eight bytes without checking it fits (2**31 + 5 arrived as -2147483643), where
# INSERT is refused with "integer out of range"; such a batch goes by INSERT.
_INTEGER_RANGE = {23: (-(2**31), 2**31 - 1), 20: (-(2**63), 2**63 - 1)}
# (database URL, table name) -> column -> type oid, read once per process and database
_column_oids: dict[tuple[str, str], dict[str, int]] = {}


def upsert_ignore(conn: Connection, table: Table) -> Any:
    """INSERT that silently skips rows violating a unique constraint, per dialect."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"database {conn.dialect.name!r} is not supported")


def one_of(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> Any:
    """`column IN (values)` for a long list of values.

    On PostgreSQL it is `column IN (SELECT unnest(array))`: ONE parameter, so the statement
    is the same text for any number of values and is prepared once, and the planner sees a
    set it can hash or join even while the table's statistics are stale (a growing table's
    usually are). `= ANY(array)` with a parameter is filtered element by element instead,
    which on a growing table means scanning it.
    """
    if conn.dialect.name == "postgresql":
        wanted = bindparam(None, list(values), type_=ARRAY(column.type))
        return column.in_(select(func.unnest(wanted)).scalar_subquery())
    return column.in_(list(values))


def placeholder(dialect: Dialect) -> str:
    """How the driver marks a parameter in SQL it is given as text."""
    return _PLACEHOLDERS[dialect.paramstyle]


def one_of_sql(dialect: Dialect) -> tuple[str, Callable[[list[str]], Any]]:
    """`one_of` as driver SQL for text values: the `IN (...)` to write after a column, and
    what turns the values into its ONE parameter (a JSON array read by `json_each` on SQLite,
    a text array on PostgreSQL), for statements run often enough that building them with
    Core costs more than running them."""
    mark = placeholder(dialect)
    if dialect.name == "sqlite":
        return f"IN (SELECT value FROM json_each({mark}))", as_json
    if dialect.name == "postgresql":
        return f"IN (SELECT unnest({mark}::text[]))", list
    raise NotImplementedError(f"database {dialect.name!r} is not supported")


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format, of the naive UTC time `UTCDateTime` binds.
    if value is None:
        return None
    if value.tzinfo is UTC:  # the usual case: written as it is, less its "+00:00"
        return value.isoformat(" ", "microseconds")[:-6]
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _aware_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_json(value: Any) -> str:
    """JSON text as SQLAlchemy's JSON type would write it (None as the JSON value null), by
    orjson: a score's signals are JSON on every stored mention, and the standard encoder took
    three times as long. The engines write every JSON column with it (`json_serializer`)."""
    return orjson.dumps(value, default=_plain_number, option=orjson.OPT_NON_STR_KEYS).decode()


def _plain_number(value: Any) -> float:
    """What orjson cannot write but the standard encoder did: float subclasses (NumPy's)."""
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _converter(column_type: Any, dialect: Dialect) -> Convert | None:
    """The plain function that turns a Python value into what the driver should get."""
    on_sqlite = dialect.name == "sqlite"
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time if on_sqlite else _aware_time
    if isinstance(column_type, JSON):
        return as_json
    if isinstance(column_type, Boolean):
        return _sqlite_bool if on_sqlite else None
    processor: Convert | None = column_type.bind_processor(dialect)
    return processor


def _insert_sql(
    table: Table,
    dialect: Dialect,
    columns: tuple[str, ...],
    rows_sql: str,
    ignore_conflicts: bool,
    returning: tuple[str, ...],
) -> str:
    quote = dialect.identifier_preparer.quote
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) {rows_sql}"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(c) for c in returning)
    return sql


@lru_cache(maxsize=64)  # one per table and chunk size in use
def _values_statement(
    table: Table,
    dialect: Dialect,
    columns: tuple[str, ...],
    rows: int,
    ignore_conflicts: bool,
    returning: tuple[str, ...],
) -> str:
    """SQLite: one multi-row VALUES list with a placeholder per value."""
    mark = placeholder(dialect)
    group = "(" + ", ".join([mark] * len(columns)) + ")"
    rows_sql = f"VALUES {', '.join([group] * rows)}"
    return _insert_sql(table, dialect, columns, rows_sql, ignore_conflicts, returning)


@cache
def _unnest_statement(
    table: Table,
    dialect: Dialect,
    columns: tuple[str, ...],
    ignore_conflicts: bool,
    returning: tuple[str, ...],
) -> str:
    """PostgreSQL: one array parameter per column, so the statement text never changes with
    the number of rows (the driver prepares it once; a 30,000-placeholder VALUES list cost
    more to parse on the client than the insert itself)."""
    # psycopg 3's %b sends the arrays in binary: no quoting and escaping of every text on
    # the client (that was a quarter of the insert's time).
    mark = "%b" if dialect.driver == "psycopg" else "%s"
    casts = ", ".join(f"{mark}::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    # In the given order, so ids are handed out in row order (the audit chain relies on it).
    rows_sql = (
        f"SELECT {aliases} FROM unnest({casts}) WITH ORDINALITY AS given({aliases}, n) ORDER BY n"
    )
    return _insert_sql(table, dialect, columns, rows_sql, ignore_conflicts, returning)


@cache
def _defaults(table: Table, given: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Constant Python-side column defaults for the columns a row leaves out (as Core adds)."""
    out = []
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if not default.is_scalar:
            raise ValueError(f"{table.name}.{column.name} has a computed default; give it a value")
        out.append((column.name, default.arg))  # type: ignore[attr-defined]
    return tuple(out)


@cache
def _converters(
    table: Table, dialect: Dialect, columns: tuple[str, ...]
) -> tuple[Convert | None, ...]:
    return tuple(_converter(table.c[name].type, dialect) for name in columns)


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` (all with the same keys) in the caller's transaction.

    With `ignore_conflicts`, rows that would break a unique constraint are skipped; with
    `returning`, the named columns of the rows actually inserted come back, in no set order.
    """
    if not rows:
        return []
    given = tuple(rows[0])
    defaults = _defaults(table, given)
    if defaults:
        fill = dict(defaults)
        rows = [{**fill, **row} for row in rows]
    columns = tuple(rows[0])
    if conn.dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"database {conn.dialect.name!r} is not supported")
    dialect = conn.dialect
    converters = _converters(table, dialect, columns)
    take = itemgetter(*columns)
    single = len(columns) == 1
    to_convert = [(i, c) for i, c in enumerate(converters) if c is not None]
    # A batch's rows mostly share one timestamp object (`at`): convert it once, not per row.
    seen: list[Any] = [_UNSEEN] * len(columns)
    converted: list[Any] = [None] * len(columns)

    def values(chunk: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """The chunk's rows as lists of driver-ready values, in `columns` order."""
        out_rows = []
        for row in chunk:
            picked = [take(row)] if single else list(take(row))
            for i, convert in to_convert:
                value = picked[i]
                if value is seen[i]:
                    picked[i] = converted[i]
                else:
                    seen[i] = value
                    picked[i] = converted[i] = convert(value)
            out_rows.append(picked)
        return out_rows

    out: list[tuple[Any, ...]] = []
    if dialect.name == "postgresql":
        if dialect.driver == "psycopg" and len(rows) >= _COPY_MIN_ROWS:
            copied = _copy_rows(
                conn, table, columns, values(rows), ignore_conflicts, tuple(returning)
            )
            if copied is not None:
                return copied
        sql = _unnest_statement(table, dialect, columns, ignore_conflicts, tuple(returning))
        for start in range(0, len(rows), _PG_ROWS):
            chunk = rows[start : start + _PG_ROWS]
            by_column = [list(c) for c in zip(*values(chunk), strict=True)]
            result = conn.exec_driver_sql(sql, tuple(by_column))
            if returning:
                out.extend(tuple(r) for r in result)
        return out
    per_chunk = max(1, _MAX_PARAMS.get(dialect.name, _DEFAULT_MAX_PARAMS) // len(columns))
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        sql = _values_statement(
            table, dialect, columns, len(chunk), ignore_conflicts, tuple(returning)
        )
        flat = tuple(chain.from_iterable(values(chunk)))
        result = conn.exec_driver_sql(sql, flat)
        if returning:
            out.extend(tuple(r) for r in result)
    return out


def _table_oids(conn: Connection, table: Table) -> dict[str, int]:
    """The type oid of each of the table's columns, read from the catalog once per process
    and database: binary COPY must send each value in exactly the column's own type (an
    int8 column refuses four bytes), so they are taken from the database, not guessed from
    the model."""
    key = (str(conn.engine.url), table.name)
    oids = _column_oids.get(key)
    if oids is None:
        found = conn.exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (table.name,),
        )
        oids = _column_oids[key] = {str(name): int(oid) for name, oid in found}
    return oids


def _copy_oids(conn: Connection, table: Table, columns: Sequence[str]) -> list[int] | None:
    """The oid each column is sent as by binary COPY, or None if one has a type it does
    not send."""
    oids = _table_oids(conn, table)
    sent = [_COPY_AS_OID.get(oids.get(column, 0)) for column in columns]
    return None if None in sent else cast(list[int], sent)


def _integers_fit(rows: list[list[Any]], oids: list[int]) -> bool:
    """Every value of an integer column is an int within the column's range (or NULL);
    `oids` are those of the rows' columns, in order."""
    for i, oid in enumerate(oids):
        bounds = _INTEGER_RANGE.get(oid)
        if bounds is None:
            continue
        low, high = bounds
        for row in rows:
            value = row[i]
            if value is not None and (not isinstance(value, int) or not low <= value <= high):
                return False
    return True


def _copy_rows(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[list[Any]],
    ignore_conflicts: bool,
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]] | None:
    """`insert_rows` on PostgreSQL by binary COPY, or None where COPY cannot do it.

    COPY has no RETURNING: a table's new ids are taken from its sequence first, in row
    order (as INSERT hands them out) and written with the rows, and the other returned
    columns are the values given. COPY has no ON CONFLICT either: with `ignore_conflicts`
    it runs in a savepoint, and if a row breaks a unique constraint (rare: another instance
    stored the same mention a moment ago) the savepoint is rolled back and None says to
    insert with ON CONFLICT DO NOTHING instead.
    """
    allocate = "id" in returning and "id" not in columns
    if any(name not in columns and name != "id" for name in returning):
        return None
    names = [*columns, "id"] if allocate else list(columns)
    oids = _copy_oids(conn, table, names)
    if oids is None or not _integers_fit(rows, oids[: len(columns)]):  # the ids come later
        return None
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in names)}) FROM STDIN BINARY"
    if allocate:
        ids = sorted(
            int(i)
            for (i,) in conn.exec_driver_sql(
                "SELECT nextval(seq) FROM pg_get_serial_sequence(%s, 'id') AS seq, "
                "generate_series(1, %s)",
                (table.name, len(rows)),
            )
        )
        for row, new_id in zip(rows, ids, strict=True):
            row.append(new_id)
    savepoint = conn.begin_nested() if ignore_conflicts else None
    try:
        _copy(conn, sql, oids, rows)
    except IntegrityError as exc:
        if savepoint is None or not isinstance(exc.orig, psycopg.errors.UniqueViolation):
            raise
        savepoint.rollback()
        return None
    if savepoint is not None:
        savepoint.commit()
    if not returning:
        return []
    at = {name: i for i, name in enumerate(names)}
    pick = itemgetter(*(at[name] for name in returning))
    return [(pick(row),) if len(returning) == 1 else tuple(pick(row)) for row in rows]


def _copy(conn: Connection, sql: str, oids: list[int], rows: list[list[Any]]) -> None:
    """Send `rows` through `COPY ... FROM STDIN BINARY` on the transaction's connection.

    A driver error is raised as SQLAlchemy's, as every other statement's is, so the store
    reports it the same way (and a lost connection is not handed out again)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(oids)
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.Error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection, None)  # type: ignore[arg-type]
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, None, exc, psycopg.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
