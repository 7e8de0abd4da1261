"""Faults: the database goes away, locks up or fills up mid-poll; the process is killed or
stopped mid-poll. Each time the poll fails in words (or finishes), the next poll succeeds, and
the store ends with every entry exactly once.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text

from listener.app import make_listener
from listener.pipeline import PollReport
from listener.service import Service
from listener.settings import Settings
from listener.store import DraftFilter, Store
from listener.store.bulk import _COPY_MIN_ROWS
from listener.store.mentions import DRAFT, MENTION
from tests.support.http_server import LocalServer, Reply
from tests.support.processes import start_service, stop_all, write_settings

RSS_TYPE = "application/rss+xml; charset=utf-8"
PHRASES = (
    "O2 charged me twice and support hung up on me",
    "Skyline Air lost my bag and nobody answers the phone",
    "O2 signal has been gone for two days, awful",
    "Great flight with Skyline Air today, thanks to the crew",
)


def feed(count: int, *, prefix: str = "e", padding: int = 0) -> bytes:
    items = "".join(
        f"<item><guid isPermaLink='false'>{prefix}-{i}</guid>"
        f"<title>{PHRASES[i % len(PHRASES)]} (case {i})</title>"
        f"<description>{PHRASES[(i + 1) % len(PHRASES)]} {'lorem ipsum ' * padding}</description>"
        f"<link>https://news.example/{prefix}/{i}</link>"
        f"<pubDate>Mon, 06 Mar 2026 09:{i % 60:02d}:00 GMT</pubDate></item>"
        for i in range(count)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
        f"{items}</channel></rss>"
    ).encode()


def mention_ids(url: str) -> tuple[set[str], int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = {r[0] for r in conn.execute(select(MENTION.c.external_id))}
            rows = conn.execute(select(func.count()).select_from(MENTION)).scalar_one()
    finally:
        engine.dispose()
    return ids, int(rows)


def _takes_mention_ids(statement: str, parameters: Any) -> bool:
    """The statement that takes new mention ids from their sequence, just before the batch's
    mentions are copied in (see listener.store.bulk)."""
    return "pg_get_serial_sequence" in statement and tuple(parameters or ())[:1] == ("mention",)


@pytest.mark.parametrize("moment", ["before the ids are taken", "while the rows are copied"])
def test_the_postgresql_session_killed_mid_poll_loses_and_duplicates_nothing(
    make_settings: Callable[..., Settings],
    http_server: LocalServer,
    postgres_url: str,
    moment: str,
) -> None:
    entries = 40  # enough that the mentions go in by COPY
    assert entries >= _COPY_MIN_ROWS
    http_server.serve_feed("/feed.xml", feed(entries), content_type=RSS_TYPE)
    settings = make_settings(
        database={"url": postgres_url},
        sources=[{"name": "news", "url": http_server.url("/feed.xml")}],
    )
    listener = make_listener(settings)
    admin = create_engine(postgres_url)
    killed: list[int] = []
    armed: list[bool] = []

    def kill(conn: Any) -> None:
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killed.append(pid)

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        # The server drops this very session as the batch's mentions are about to be stored.
        if not killed and moment.startswith("before") and _takes_mention_ids(statement, parameters):
            kill(conn)

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        # ... or once the statement after that (the savepoint) ran: the COPY finds it gone.
        if killed or not moment.startswith("while"):
            return
        if armed:
            kill(conn)
        elif _takes_mention_ids(statement, parameters):
            armed.append(True)

    event.listen(listener.store.engine, "before_cursor_execute", before)
    event.listen(listener.store.engine, "after_cursor_execute", after)
    try:
        first = listener.poll("news")[0]
        second = listener.poll("news")[0]
    finally:
        listener.close()
        admin.dispose()
    assert killed
    assert not first.ok and "nothing from this step was saved" in first.error
    assert second.ok and second.new == entries, second
    ids, rows = mention_ids(postgres_url)
    assert rows == len(ids) == entries


def test_a_sqlite_file_locked_longer_than_the_busy_timeout_fails_that_poll_only(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    http_server.serve_feed("/feed.xml", feed(20), content_type=RSS_TYPE)
    settings = make_settings(sources=[{"name": "news", "url": http_server.url("/feed.xml")}])
    listener = make_listener(settings)
    blocker = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    blocker.execute("BEGIN EXCLUSIVE")
    threading.Timer(6.0, blocker.rollback).start()  # held past the 5 s busy timeout
    try:
        locked = listener.poll("news")[0]
        time.sleep(max(0.0, 6.5 - 5.0))
        after = listener.poll("news")[0]
        status = listener.store.sources.statuses(listener.clock.now())[0]
    finally:
        listener.close()
        blocker.close()
    assert not locked.ok and "database is locked" in locked.error
    assert after.ok and after.new == 20
    assert status.last_error == locked.error or status.consecutive_failures == 0
    ids, rows = mention_ids(sqlite_url)
    assert rows == len(ids) == 20


def test_a_full_disk_is_a_clear_store_error_and_the_service_keeps_running(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    http_server.serve_feed("/feed.xml", feed(200, padding=40), content_type=RSS_TYPE)
    settings = make_settings(
        sources=[{"name": "news", "url": http_server.url("/feed.xml"), "every": "1s"}]
    )
    listener = make_listener(settings)
    engine = listener.store.engine
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())

    def tiny_disk(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 3}")

    event.listen(engine, "connect", tiny_disk)
    engine.dispose()  # every connection from now on sees the tiny "disk"
    reports: list[PollReport] = []
    service = Service(listener, on_report=reports.append)
    service.start()
    try:
        deadline = time.monotonic() + 20
        while not any(r.error for r in reports) and time.monotonic() < deadline:
            time.sleep(0.05)
        event.remove(engine, "connect", tiny_disk)
        engine.dispose()  # space is freed
        while not any(r.ok and r.new for r in reports) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
        listener.close()
    failure = next(r for r in reports if r.error)
    assert "database or disk is full" in failure.error
    assert "nothing from this step was saved" in failure.error
    assert any(r.ok and r.new == 200 for r in reports), reports
    ids, rows = mention_ids(sqlite_url)
    assert rows == len(ids) == 200


def test_a_poll_killed_at_any_point_then_restarted_loses_and_duplicates_nothing(
    make_settings: Callable[..., Settings], http_server: LocalServer, tmp_path: Path
) -> None:
    http_server.serve_feed("/feed.xml", feed(800), content_type=RSS_TYPE)
    url = http_server.url("/feed.xml")
    # What one clean poll stores, in a database of its own.
    reference = make_listener(
        make_settings(
            database={"url": f"sqlite:///{tmp_path / 'reference.db'}"},
            sources=[{"name": "news", "url": url}],
        )
    )
    try:
        started = time.monotonic()
        [clean] = reference.poll("news")
        one_poll = time.monotonic() - started
        want_ids = {m.mention.external_id for m in reference.store.mentions(limit=5000)}
        want_drafts = reference.store.count_drafts(DraftFilter(status="all"))
    finally:
        reference.close()
    assert clean.ok and len(want_ids) == 800 and want_drafts > 0

    database = tmp_path / "crash.db"
    config = write_settings(
        tmp_path / "settings.toml", database_url=f"sqlite:///{database}", feeds=[("news", url)]
    )
    crash_url = f"sqlite:///{database}"
    stored_at_kill = []
    # Killed while fetching, half-way through parsing and scoring, and just after the batch
    # (mentions, scores, drafts, cursor) committed, while the after-store steps run.
    for moment in ("fetching", "scoring", "after the commit"):
        hits = http_server.hits("/feed.xml")
        poll = start_service(config, tmp_path / f"poll-{moment}.log", args=("poll",))
        try:
            deadline = time.monotonic() + 60
            while http_server.hits("/feed.xml") == hits and time.monotonic() < deadline:
                time.sleep(0.01)
            if moment == "scoring":
                time.sleep(one_poll / 4)
            elif moment == "after the commit":
                while mention_ids(crash_url)[1] == 0 and time.monotonic() < deadline:
                    time.sleep(0.005)
            poll.kill()
        finally:
            stop_all([poll])
        stored_at_kill.append(mention_ids(crash_url)[1])
    final = start_service(config, tmp_path / "final.log", args=("poll",))
    assert final.process.wait(timeout=60) == 0, final.output

    store = Store.open(f"sqlite:///{database}")
    try:
        ids = {m.mention.external_id for m in store.mentions(limit=5000)}
        with store._read() as conn:
            rows = conn.execute(select(func.count()).select_from(MENTION)).scalar_one()
            drafts = conn.execute(select(func.count()).select_from(DRAFT)).scalar_one()
            draft_mentions = conn.execute(
                select(func.count(func.distinct(DRAFT.c.mention_id)))
            ).scalar_one()
        chain = store.verify_audit()
    finally:
        store.close()
    assert ids == want_ids and rows == 800, stored_at_kill
    print("mentions stored when each poll was killed:", stored_at_kill)
    assert drafts == draft_mentions == want_drafts
    assert chain.ok, chain.problem


def test_sigterm_during_a_poll_lets_it_finish_then_exits_cleanly(
    http_server: LocalServer, tmp_path: Path
) -> None:
    body = feed(10)
    http_server.handle(
        "/slow.xml", lambda request: Reply(200, body, {"Content-Type": RSS_TYPE}, delay=1.5)
    )
    database = tmp_path / "listener.db"
    config = write_settings(
        tmp_path / "settings.toml",
        database_url=f"sqlite:///{database}",
        feeds=[("slow", http_server.url("/slow.xml"))],
        every="1h",
    )
    service = start_service(config, tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 30
        while http_server.hits("/slow.xml") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        service.process.send_signal(signal.SIGTERM)  # the reply is still 1.5 s away
        code = service.process.wait(timeout=30)
    finally:
        stop_all([service])
    assert code == 0, service.output
    assert "stopped cleanly" in service.output and "Traceback" not in service.output
    ids, rows = mention_ids(f"sqlite:///{database}")
    assert rows == len(ids) == 10  # the poll in flight was finished and stored
