"""The schema comes from Alembic migrations, applied on open, on SQLite and PostgreSQL alike."""

import threading
from pathlib import Path

from sqlalchemy import inspect

from listener.store import Store
from listener.store.incidents import _MISSED


def test_opening_a_new_database_creates_the_whole_schema(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert {
            "mention",
            "score",
            "draft",
            "draft_event",
            "source",
            "brand",
            "audit_log",
            "label",
            "sighting",
            "alembic_version",
        } <= tables
    finally:
        store.close()


def test_opening_again_is_a_no_op(db_url: str) -> None:
    Store.open(db_url).close()
    Store.open(db_url).close()


def test_instances_starting_together_do_not_race_on_migrations(postgres_url: str) -> None:
    errors: list[Exception] = []

    def start() -> None:
        try:
            Store.open(postgres_url).close()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_catching_up_on_missed_mentions_is_a_range_seek_not_a_scan_of_the_brand(
    tmp_path: Path,
) -> None:
    """Incident detection asks this after every stored batch; scanning the brand's mentions
    made each batch slower as the store grew."""
    store = Store.open(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        with store._read() as conn:
            compiled = _MISSED.compile(conn)
            params = compiled.construct_params(
                {"b_brand": "O2", "b_after": 10, "b_below": 20, "b_limit": 100}
            )
            rows = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}",
                tuple(params[name] for name in compiled.positiontup or ()),
            ).all()
        plan = " / ".join(str(r[-1]) for r in rows)
        assert "ix_mention_brand_id (brand=? AND id>? AND id<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        store.close()
