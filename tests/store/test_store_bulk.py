"""The fast multi-row insert writes exactly what SQLAlchemy Core writes, on every database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    cast,
    create_engine,
    select,
)

from listener.domain import Category, Engagement, IngestItem, Mention, Score
from listener.errors import StoreError
from listener.store import Store, bulk
from listener.store.audit import AUDIT
from listener.store.bulk import _copy_oids, insert_rows
from listener.store.cases import CASE, CASE_MENTION
from listener.store.incidents import INCIDENT_MENTION
from listener.store.mentions import DRAFT, DRAFT_EVENT, MENTION, SCORE, SIGHTING

AT = datetime(2026, 3, 6, 9, 41, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["copy", "insert"])
def store(
    db_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    # PostgreSQL takes a large batch by COPY and a few rows by INSERT: both ways, every test.
    monkeypatch.setattr(bulk, "_COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    store = Store.open(db_url)
    yield store
    store.close()


def _mention(external_id: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "s",
        "external_id": external_id,
        "brand": "O2",
        "text": "{{ 7*7 }} <script>alert(1)</script> 'quote' \"double\" ; DROP TABLE mention; 😡",
        "published_at": AT,
        "fetched_at": AT,
    }
    row.update(extra)
    return row


def test_rows_read_back_the_same_as_rows_written_by_core(store: Store) -> None:
    other_zone = AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    with store._write() as conn:
        conn.execute(MENTION.insert(), [_mention("core", published_at=other_zone)])
        insert_rows(conn, MENTION, [_mention("bulk", published_at=other_zone)])
    with store._read() as conn:
        rows = {
            r.external_id: r._asdict() for r in conn.execute(select(MENTION).order_by(MENTION.c.id))
        }
    core, bulk = rows["core"], rows["bulk"]
    assert bulk["published_at"] == core["published_at"] == AT
    assert bulk["published_at"].tzinfo is not None
    for name in core:
        if name not in ("id", "external_id"):
            assert bulk[name] == core[name], name
    # Constant defaults the row left out are filled in.
    assert bulk["author"] == "" and bulk["replies"] == 0


@pytest.mark.parametrize(
    "moment",
    [
        AT,
        AT.replace(microsecond=0),
        AT.astimezone(timezone(timedelta(hours=-3))),
        AT.astimezone(ZoneInfo("UTC")),
        AT.replace(tzinfo=None),
    ],
    ids=["utc", "whole-second", "other-zone", "zoneinfo-utc", "naive"],
)
def test_a_time_is_stored_as_the_same_text_as_core_writes(store: Store, moment: datetime) -> None:
    with store._write() as conn:
        conn.execute(MENTION.insert(), [_mention("core", published_at=moment)])
        insert_rows(conn, MENTION, [_mention("bulk", published_at=moment)])
    with store._read() as conn:
        stored = dict(
            conn.execute(select(MENTION.c.external_id, cast(MENTION.c.published_at, String)))
            .tuples()
            .all()
        )
    assert stored["bulk"] == stored["core"]


def test_json_and_booleans_round_trip(store: Store) -> None:
    with store._write() as conn:
        [(mention_id,)] = insert_rows(conn, MENTION, [_mention("j")], returning=("id",))
        signals: list[dict[str, object]] = [
            {"name": 'café "quoted" \\ {{x}}', "weight": 0.25},
            {"name": "\u0000 control \n and 😡", "weight": np.float64(-0.5)},  # NumPy's float too
        ]
        insert_rows(
            conn,
            SCORE,
            [
                {
                    "mention_id": mention_id,
                    "dissatisfaction": 0.9,
                    "dissatisfied": True,
                    "incident_risk": 0.1,
                    "category": "complaint",
                    "signals": signals,
                    "scored_at": AT,
                }
            ],
        )
    with store._read() as conn:
        row = conn.execute(select(SCORE)).one()
    assert row.signals == signals
    assert [type(s["weight"]) for s in row.signals] == [float, float]
    assert row.dissatisfied is True
    assert row.scored_at == AT


def test_conflicts_are_skipped_and_only_new_rows_return(store: Store) -> None:
    with store._write() as conn:
        first = insert_rows(
            conn, MENTION, [_mention("a"), _mention("b")], returning=("id", "external_id")
        )
        again = insert_rows(
            conn,
            MENTION,
            [_mention("b"), _mention("c")],
            ignore_conflicts=True,
            returning=("external_id",),
        )
    assert sorted(e for _, e in first) == ["a", "b"]
    assert again == [("c",)]
    with store._read() as conn:  # the skipped row did not undo the rest of the transaction
        stored = conn.execute(select(MENTION.c.external_id, MENTION.c.text)).all()
    assert sorted(e for e, _ in stored) == ["a", "b", "c"]


def test_a_repeat_within_one_batch_keeps_the_first_row(store: Store) -> None:
    rows = [_mention("a", text="first"), _mention("b"), _mention("a", text="second")]
    with store._write() as conn:
        got = insert_rows(
            conn, MENTION, rows, ignore_conflicts=True, returning=("id", "external_id")
        )
    assert sorted(e for _, e in got) == ["a", "b"]
    with store._read() as conn:
        texts = {e: t for e, t in conn.execute(select(MENTION.c.external_id, MENTION.c.text))}
    assert texts["a"] == "first"


def test_a_conflict_not_asked_to_be_skipped_fails_the_write_and_saves_nothing(
    store: Store,
) -> None:
    with store._write() as conn:
        insert_rows(conn, MENTION, [_mention("a")])
    with pytest.raises(StoreError, match="refused"), store._write() as conn:
        insert_rows(conn, MENTION, [_mention("b")])
        insert_rows(conn, MENTION, [_mention("c"), _mention("a")])
    with store._read() as conn:
        assert [e for (e,) in conn.execute(select(MENTION.c.external_id))] == ["a"]


def test_large_batches_are_split_below_the_parameter_limit(store: Store) -> None:
    rows = [_mention(f"m{i}") for i in range(5000)]  # 30,000 parameters and more
    with store._write() as conn:
        ids = insert_rows(conn, MENTION, rows, returning=("id",))
    assert len({i for (i,) in ids}) == 5000
    with store._read() as conn:
        assert len(conn.execute(select(MENTION.c.id)).all()) == 5000


def test_a_computed_default_must_be_given() -> None:
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer, default=len)
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn, pytest.raises(ValueError, match="computed default"):
        insert_rows(conn, table, [{"id": 1}])


def test_ids_are_handed_out_in_row_order(store: Store) -> None:
    # The audit chain links each record to the one before it by id order.
    names = [f"r{i:05d}" for i in range(3000)]
    names.reverse()
    with store._write() as conn:
        got = insert_rows(
            conn, MENTION, [_mention(n) for n in names], returning=("id", "external_id")
        )
    assert [e for _, e in sorted(got)] == names


def test_known_ids_are_found_among_more_ids_than_one_lookup_takes(store: Store) -> None:
    with store._write() as conn:
        insert_rows(conn, MENTION, [_mention(f"m{i}") for i in range(0, 1200, 3)])
        insert_rows(
            conn,
            MENTION,
            [_mention("x1", source="other")],  # the same id under another source is not known
        )
    asked = [f"m{i}" for i in range(1200)] + ["x1", 'it\'s "odd" [1]', "m0"]
    known = store.known_external_ids("s", asked)
    assert known == {f"m{i}" for i in range(0, 1200, 3)}
    assert store.known_external_ids("s", []) == set()


@pytest.mark.postgres
def test_every_table_an_import_writes_goes_by_copy_on_postgresql(postgres_url: str) -> None:
    # A column type binary COPY does not send would quietly put a table back on the slower
    # unnest() insert; this says which one.
    store = Store.open(postgres_url)
    try:
        with store._write() as conn:
            for table in (
                MENTION, SCORE, DRAFT, DRAFT_EVENT, SIGHTING, AUDIT, CASE, CASE_MENTION,
                INCIDENT_MENTION,
            ):  # fmt: skip
                columns = tuple(c.name for c in table.columns)
                assert _copy_oids(conn, table, columns) is not None, table.name
    finally:
        store.close()


@pytest.mark.postgres
def test_a_column_type_copy_does_not_send_is_inserted_the_other_way(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_COPY_MIN_ROWS", 1)
    store = Store.open(postgres_url)
    table = Table(
        "bulk_numeric",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", Numeric(10, 2)),
    )
    try:
        table.metadata.create_all(store.engine)
        with store._write() as conn:
            got = insert_rows(conn, table, [{"amount": 1.5}, {"amount": 2}], returning=("id",))
        assert len(got) == 2
        with store._read() as conn:
            assert sorted(float(a) for (a,) in conn.execute(select(table.c.amount))) == [1.5, 2.0]
    finally:
        store.close()


def test_integers_are_stored_exactly_or_refused_never_wrapped(store: Store) -> None:
    # At the edges of a four-byte integer column they read back as given; past them,
    # PostgreSQL refuses the batch whichever way it is sent (binary COPY would have wrapped
    # 2**31 + 5 round to a negative number without a word), and SQLite keeps the value.
    edges = [_mention(f"e{i}", replies=2**31 - 1, likes=-(2**31)) for i in range(40)]
    with store._write() as conn:
        insert_rows(conn, MENTION, edges)
    with store._read() as conn:
        stored = set(conn.execute(select(MENTION.c.replies, MENTION.c.likes)).all())
    assert stored == {(2**31 - 1, -(2**31))}
    too_big = [_mention(f"b{i}", author_followers=2**31 + 5 if i == 7 else 10) for i in range(40)]
    if store.is_sqlite:
        with store._write() as conn:
            insert_rows(conn, MENTION, too_big)
        with store._read() as conn:
            followers = {f for (f,) in conn.execute(select(MENTION.c.author_followers))}
        assert 2**31 + 5 in followers
        return
    with pytest.raises(StoreError, match="out of range"), store._write() as conn:
        insert_rows(conn, MENTION, too_big)
    with store._read() as conn:
        assert conn.execute(select(MENTION.c.id).where(MENTION.c.external_id == "b0")).all() == []


def test_counts_too_large_for_their_column_are_capped_and_the_batch_is_stored(
    store: Store,
) -> None:
    # A source reporting a count past two billion must not make PostgreSQL refuse the batch
    # (and refuse it again on every retry): the count is stored as the column's largest.
    score = Score(0.2, False, 0.0, Category.OTHER, None, (), "test")
    items = [
        IngestItem(
            Mention(
                "s",
                f"m{i}",
                "O2 again",
                author_followers=10**12 if i == 3 else 500,
                engagement=Engagement(likes=10**10 if i == 5 else 1, replies=-4),
                published_at=AT,
            ),
            "O2",
            "O2",
            score,
        )
        for i in range(40)
    ]
    stored = store.ingest(items, at=AT)
    assert len(stored) == 40
    with store._read() as conn:
        rows = {
            r.external_id: r
            for r in conn.execute(
                select(
                    MENTION.c.external_id,
                    MENTION.c.author_followers,
                    MENTION.c.likes,
                    MENTION.c.replies,
                )
            )
        }
    assert rows["m3"].author_followers == 2**31 - 1 and rows["m0"].author_followers == 500
    assert rows["m5"].likes == 2**31 - 1 and rows["m0"].likes == 1
    assert rows["m0"].replies == 0
