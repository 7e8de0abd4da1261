"""Interrupted runs: a process killed mid-import, a database that drops the session mid-import,
mentions stored by a run that never finished their after-store steps. Whatever happened, the
next command settles what was left, an import either finishes or says how far it got, and no
reply goes to someone whose opt-out is stored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from listener.app import Listener, make_listener
from listener.domain import DraftStatus, IngestItem, Mention
from listener.errors import StoreError
from listener.settings import Settings
from listener.store.cases import list_cases
from listener.store.mentions import MENTION
from tests.support.cli import listener_cli
from tests.support.outreach import SmtpServer, World, email_mention
from tests.support.paths import REPO

WorldFactory = Callable[..., World]


def _settings_file(path: Path, database_url: str, smtp: SmtpServer | None = None) -> Path:
    mail = (
        f'[email]\nsender = "care@o2.example"\nsmtp_host = "{smtp.host}"\n'
        f'smtp_port = {smtp.port}\ntimeout = "5s"\n'
        if smtp is not None
        else ""
    )
    path.write_text(
        f"[database]\nurl = {json.dumps(database_url)}\n"
        '[[brands]]\nname = "O2"\nterms = ["O2", "@O2"]\nsupport_url = "https://o2.example/h"\n'
        '[scoring]\nmodel = "lexicon"\nworkers = 0\n'
        f"[outreach]\ntemplates_dir = {json.dumps(str(REPO / 'templates'))}\n{mail}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def listen(
    make_settings: Callable[..., Settings], db_url: str
) -> Iterator[Callable[..., Listener]]:
    opened: list[Listener] = []

    def build(**overrides: Any) -> Listener:
        opened.append(make_listener(make_settings(database={"url": db_url}, **overrides)))
        return opened[-1]

    yield build
    for listener in opened:
        listener.close()


def _left_unsettled(listener: Listener) -> None:
    """What a run killed between a batch's commit and its after-store steps leaves."""
    stop = Mention("x", "1", "@O2 stop messaging me", author="@ann", source_kind="x")
    angry = Mention("x", "2", "@O2 charged me twice, support hung up", author="@bob")
    scores = listener.pipeline.scorer.score_batch([stop, angry])
    items = [IngestItem(m, "O2", "@O2", s) for m, s in zip([stop, angry], scores, strict=True)]
    listener.store.ingest(items, at=listener.clock.now())
    assert len(listener.store.unsettled(stored_before=listener.clock.now() + timedelta(1))) == 1


@pytest.mark.parametrize(
    "command", [("dispatch", "--json"), ("poll",), ("import", "EMPTY"), ("contacts", "add")]
)
def test_every_command_that_writes_first_settles_what_an_interrupted_run_left(
    listen: Callable[..., Listener], db_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    listener = listen()
    _left_unsettled(listener)
    config = _settings_file(tmp_path / "settings.toml", db_url)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    args = [str(empty) if a == "EMPTY" else a for a in command]
    if command[0] == "contacts":
        args += ["--brand", "O2", "--author", "someone", "--reason", "asked by phone"]
    done = listener_cli(config, *args)
    assert done.returncode == 0, done.stderr
    assert "settled 2 mention(s)" in done.stderr
    assert listener.store.unsettled(stored_before=listener.clock.now() + timedelta(1)) == []
    with listener.store._read() as conn:
        assert any(case.author == "bob" for case in list_cases(conn, brand="O2"))
    assert "ann" in [c.author for c in listener.store.outreach.contacts("O2")]


def _import_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _complaints(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "source": "import",
            "external_id": f"c{n}",
            "text": f"O2 charged me twice again, complaint number {n}",
            "author": f"@user{n}",
        }
        for n in range(start, start + count)
    ]


@pytest.fixture
def world(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    db_url: str,
) -> World:
    email = {"sender": "care@o2.example", "smtp_host": smtp_server.host}
    email |= {"smtp_port": smtp_server.port, "timeout": "5s"}
    return world_factory(make_settings(database={"url": db_url}, email=email), environ={})


def _stored(database_url: str, source: str, external_id: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(MENTION.c.id).where(
                    MENTION.c.source == source, MENTION.c.external_id == external_id
                )
            ).first()
    except OperationalError:  # not created yet: the command is still starting
        return False
    finally:
        engine.dispose()
    return found is not None


def test_an_import_killed_right_after_storing_a_stop_never_lets_the_reply_out(
    world: World,
    smtp_server: SmtpServer,
    db_url: str,
    tmp_path: Path,
) -> None:
    (draft,) = world.ingest(email_mention(1, "kim@example.org"))
    world.approve(draft)
    stop = {"source": "import", "external_id": "kim-stop", "text": "@O2 STOP"}
    stop |= {"author": "kim@example.org", "author_email": "kim@example.org"}
    lines = [*_complaints(2500), stop, *_complaints(30000, start=2500)]
    file = _import_lines(tmp_path / "big.jsonl", lines)
    config = _settings_file(tmp_path / "settings.toml", db_url, smtp_server)
    env = {**os.environ, "LISTENER_CONFIG": str(config)}
    importer = subprocess.Popen(
        [sys.executable, "-m", "listener", "import", str(file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not _stored(db_url, "import", "kim-stop"):
            assert importer.poll() is None, "the import ended before the STOP was stored"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        importer.send_signal(signal.SIGKILL)  # the moment after its batch committed
        _, stderr = importer.communicate(timeout=30)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    assert importer.returncode == -signal.SIGKILL
    assert b"Traceback" not in stderr

    dispatched = listener_cli(config, "dispatch", "--json")
    assert dispatched.returncode == 0, dispatched.stderr
    assert smtp_server.messages == []
    assert world.draft(draft.id).status is DraftStatus.CANCELLED
    assert "kim@example.org" in [c.author for c in world.store.outreach.contacts("O2")]


def _mention_id_take(statement: str, parameters: Any) -> bool:
    return "pg_get_serial_sequence" in statement and tuple(parameters or ())[:1] == ("mention",)


@pytest.fixture
def admin(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def _drop_sessions(listener: Listener, admin: Engine, times: int) -> list[int]:
    """Have the server drop the session storing mentions, the first `times` times a batch
    after the first one takes its mention ids."""
    killed: list[int] = []
    seen: list[int] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not _mention_id_take(statement, parameters):
            return
        seen.append(1)
        if len(seen) >= 2 and len(killed) < times:
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    event.listen(listener.store.engine, "before_cursor_execute", before)
    return killed


def _batches(count: int, size: int) -> list[list[Mention]]:
    return [
        [
            Mention("import", f"b{b}-{n}", f"O2 charged me twice, batch {b} line {n}")
            for n in range(size)
        ]
        for b in range(count)
    ]


def _count(postgres_url: str) -> int:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(MENTION)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_an_import_tries_a_batch_again_when_the_database_drops_the_session(
    make_settings: Callable[..., Settings], postgres_url: str, admin: Engine, workers: int
) -> None:
    settings = make_settings(database={"url": postgres_url}, scoring={"workers": workers})
    listener = make_listener(settings)
    listener.pipeline.retry_waits = (0.1, 0.1, 0.1)
    try:
        killed = _drop_sessions(listener, admin, times=2)
        reports = list(listener.pipeline.ingest_many(_batches(4, 50), actor="import"))
    finally:
        listener.close()
    assert len(killed) == 2
    assert [r.new for r in reports] == [50, 50, 50, 50]
    assert _count(postgres_url) == 200


def test_an_import_the_database_keeps_failing_says_how_far_it_got_and_stores_nothing_after(
    make_settings: Callable[..., Settings], postgres_url: str, admin: Engine
) -> None:
    listener = make_listener(make_settings(database={"url": postgres_url}))
    listener.pipeline.retry_waits = (0.1, 0.1, 0.1)
    reports = []
    try:
        _drop_sessions(listener, admin, times=100)
        with pytest.raises(StoreError) as caught:
            for report in listener.pipeline.ingest_many(_batches(4, 50), actor="import"):
                reports.append(report)
    finally:
        listener.close()
    message = str(caught.value)
    assert "will be retried" not in message
    assert "Stopped after 1 batch(es) were stored" in message
    assert "Run the same command again" in message
    assert [r.new for r in reports] == [50]
    assert _count(postgres_url) == 50  # no later batch past the one that failed


def _quiet(stderr: str) -> None:
    for noise in ("Traceback", "resource_tracker", "leaked semaphore"):
        assert noise not in stderr, stderr


def test_a_killed_import_with_worker_processes_leaves_no_tracebacks_behind(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = _settings_file(tmp_path / "settings.toml", sqlite_url)
    config.write_text(
        config.read_text(encoding="utf-8").replace("workers = 0", "workers = 1"), encoding="utf-8"
    )
    file = _import_lines(tmp_path / "big.jsonl", _complaints(40000))
    errors = tmp_path / "stderr.txt"
    env = {**os.environ, "LISTENER_CONFIG": str(config)}
    with errors.open("wb") as sink:
        # stderr to a file: the resource tracker outlives the killed import and writes there.
        importer = subprocess.Popen(
            [sys.executable, "-m", "listener", "import", str(file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            deadline = time.monotonic() + 120
            while not _stored(sqlite_url, "import", "c0"):
                assert importer.poll() is None, errors.read_text(encoding="utf-8")
                assert time.monotonic() < deadline
                time.sleep(0.05)
            importer.send_signal(signal.SIGKILL)
            importer.wait(timeout=30)
        finally:
            if importer.poll() is None:
                importer.kill()
                importer.wait()
    time.sleep(3)  # the tracker notices its parent is gone and cleans up
    _quiet(errors.read_text(encoding="utf-8"))


def test_poll_of_one_source_with_worker_processes_ends_quietly(
    sqlite_url: str, tmp_path: Path
) -> None:
    rss = tmp_path / "feed.xml"
    items = "".join(
        f"<item><guid>g{n}</guid><title>O2 charged me twice, case {n}</title></item>"
        for n in range(200)
    )
    rss.write_text(f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>")
    config = _settings_file(tmp_path / "settings.toml", sqlite_url)
    config.write_text(
        config.read_text(encoding="utf-8").replace("workers = 0", "workers = 1")
        + f'[[sources]]\nname = "news"\nurl = {json.dumps(rss.as_uri())}\n',
        encoding="utf-8",
    )
    done = listener_cli(config, "poll", "--source", "news")
    assert done.returncode == 0, done.stderr
    _quiet(done.stderr)
