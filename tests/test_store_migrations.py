"""The schema comes from Alembic migrations, applied on open, on SQLite and PostgreSQL alike."""

import threading

from sqlalchemy import inspect

from listener.store import Store


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
