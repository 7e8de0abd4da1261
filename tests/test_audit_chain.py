"""The audit log is a hash chain: `listener audit verify` finds the first record someone changed
or removed, and every outreach step (send, opt-out, list edit, case change) leaves a record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from listener.settings import load_settings
from listener.store import Store, audit
from listener.store.engine import migrate
from tests.fakes.x_api import XApiServer, x_api  # noqa: F401
from tests.outreach_support import NOW, build_world, x_mention

REPO = Path(__file__).resolve().parents[1]


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LISTENER_CONFIG": str(config), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _config(tmp_path: Path, api_url: str) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///l.db"\n'
        '[[brands]]\nname = "O2"\nterms = ["O2", "@O2"]\n'
        '[scoring]\nmodel = "lexicon"\n'
        f'[outreach]\ntemplates_dir = "{REPO / "templates"}"\n'
        f'[x_publish]\napi_url = "{api_url}"\n'
    )
    return config


def test_outreach_leaves_a_verifiable_trail_and_tampering_is_caught(
    tmp_path: Path,
    x_api: XApiServer,  # noqa: F811
) -> None:
    config = _config(tmp_path, x_api.url)
    settings = load_settings(config, environ={})
    world = build_world(settings)
    try:
        dana, eli = x_api.add_user("dana"), x_api.add_user("eli")
        (draft,) = world.ingest(x_mention(x_api, dana, "@O2 no signal for days"))
        world.approve(draft)
        world.dispatcher().run_once()
        world.ingest(x_mention(x_api, eli, "@O2 stop messaging me"))
        contacts = world.store.outreach
        contacts.remove_contact(brand="O2", author="eli", actor="ann", at=NOW)
        (case, *_) = contacts.cases()
        contacts.update_case(case.id, actor="ann", at=NOW, owner="ann")
    finally:
        world.listener.close()

    ok = _cli(config, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact" in ok.stderr
    records = json.loads(_cli(config, "audit", "--json", "--limit", "1000").stdout)
    actions = {r["action"] for r in records}
    assert {
        "ingest.batch",
        "draft.approve",
        "draft.sending",
        "draft.sent",
        "contact.do_not_contact",
        "contact.remove",
        "case.open",
        "case.first_response",
        "case.update",
    } <= actions
    sent = next(r for r in records if r["action"] == "draft.sent")
    assert sent["before"] == {"status": "sending"} and sent["after"]["status"] == "sent"

    # Someone rewrites history: who approved the reply.
    approve = next(r for r in records if r["action"] == "draft.approve")
    store = Store.open(settings.database_url)
    try:
        with store._write() as conn:
            conn.execute(
                text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": approve["id"]}
            )
    finally:
        store.close()
    tampered = _cli(config, "audit", "verify")
    assert tampered.returncode == 1
    assert (
        f"record {approve['id']}" in tampered.stderr
        and "does not match its hash" in tampered.stderr
    )


def test_a_deleted_record_breaks_the_chain(
    tmp_path: Path,
    x_api: XApiServer,  # noqa: F811
) -> None:
    config = _config(tmp_path, x_api.url)
    settings = load_settings(config, environ={})
    world = build_world(settings)
    try:
        for name in ("fay", "gus", "hal"):
            world.ingest(x_mention(x_api, x_api.add_user(name), f"@O2 awful, says {name}"))
        ids = sorted(r.id for r in world.store.audit(limit=100))
        with world.store._write() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    finally:
        world.listener.close()
    broken = _cli(config, "audit", "verify")
    assert broken.returncode == 1
    assert f"record {ids[3]}" in broken.stderr and "link to the previous record" in broken.stderr


AT = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
RECORDS: list[dict[str, Any]] = [
    {
        "at": AT,
        "actor": "listener",
        "action": "case.open",
        "entity": "case",
        "entity_id": 7,
        "after": {"brand": "O2", "author": "dana_tech", "status": "new", "mention_id": 41},
    },
    {
        "at": AT,
        "actor": "listener",
        "action": "case.link_mention",
        "entity": "case",
        "entity_id": "7",
        "after": {"mention_id": 42},
    },
    {
        "at": AT + timedelta(seconds=1),
        "actor": "Zoë Ångström",
        "action": "case.update",
        "entity": "case",
        "entity_id": "7",
        "before": {"owner": "", "status": "new"},
        "after": {
            "owner": "zoë",
            "note": "\u201cRückruf\u201d 😡\nline two",
            "n": [1, 2.5, True, None],
        },
    },
]
# Recorded when the chain was first written record by record with `json.dumps`: a record's
# hash is a promise to whoever checks the log later, so the same content must keep it.
PINNED = [
    "9c89204b7f298a779cd90ddba3633a52d095f90dc5b28ed92a5ead0e994de794",
    "a67990bc4691b42fec175fb5895c7251643d7967248597278fcae36674e3fb54",
    "d2301291f66e3c469dcdaaad188bfe4e11be1a1ff8d7f689081c46d2209814b0",
]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    try:
        yield store
    finally:
        store.close()


def _stored_chain(store: Store) -> list[tuple[str, str]]:
    with store._read() as conn:
        rows = conn.execute(select(audit.AUDIT.c.prev_hash, audit.AUDIT.c.hash).order_by("id"))
        return [(r.prev_hash, r.hash) for r in rows]


def test_a_batch_of_records_keeps_the_hashes_records_always_had(store: Store) -> None:
    with store._write() as conn:
        audit.append_many(conn, RECORDS)
    assert _stored_chain(store) == list(zip([audit.GENESIS, *PINNED[:-1]], PINNED, strict=True))
    with store._read() as conn:
        assert audit.verify(conn) == audit.ChainCheck(True, 3)


def test_one_record_at_a_time_makes_the_same_chain_as_a_batch(store: Store) -> None:
    with store._write() as conn:
        assert audit.append(conn, **RECORDS[0]) == PINNED[0]
    with store._write() as conn:
        audit.append_many(conn, RECORDS[1:2])
        assert audit.append(conn, **RECORDS[2]) == PINNED[2]
    assert [h for _, h in _stored_chain(store)] == PINNED
    with store._read() as conn:
        assert audit.verify(conn) == audit.ChainCheck(True, 3)


def test_dropping_the_hash_index_keeps_every_record_and_the_chain(db_url: str) -> None:
    """Migration 0010 rebuilds the SQLite table without the unique hash index; the records,
    their order and their chain survive, and new records chain onto the last old one."""
    old = Store.open(db_url, run_migrations=False)
    try:
        migrate(old.engine, "0009")
        with old._write() as conn:
            audit.append_many(conn, RECORDS[:2])
    finally:
        old.close()
    store = Store.open(db_url)
    try:
        with store._write() as conn:
            audit.append(conn, **RECORDS[2])
        assert [h for _, h in _stored_chain(store)] == PINNED
        with store._read() as conn:
            assert audit.verify(conn) == audit.ChainCheck(True, 3)
        assert not [
            index
            for index in inspect(store.engine).get_indexes("audit_log")
            if index["column_names"] == ["hash"]
        ]
        assert not inspect(store.engine).get_unique_constraints("audit_log")
    finally:
        store.close()
