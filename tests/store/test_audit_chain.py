"""The audit log is a hash chain: `listener audit verify` finds the first record someone changed
or removed, and every outreach step (send, opt-out, list edit, case change) leaves a record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from listener.settings import load_settings
from listener.store import Store, audit
from listener.store.engine import migrate
from tests.support.cli import listener_cli
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import NOW, build_world, x_mention
from tests.support.paths import REPO


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
    x_api: XApiServer,
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

    ok = listener_cli(config, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact" in ok.stderr
    records = json.loads(listener_cli(config, "audit", "--json", "--limit", "1000").stdout)
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
    tampered = listener_cli(config, "audit", "verify")
    assert tampered.returncode == 1
    assert (
        f"record {approve['id']}" in tampered.stderr
        and "does not match its hash" in tampered.stderr
    )


def test_a_deleted_record_breaks_the_chain(
    tmp_path: Path,
    x_api: XApiServer,
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
    broken = listener_cli(config, "audit", "verify")
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
            _append_as_before_0013(conn, RECORDS[:2])
    finally:
        old.close()
    store = Store.open(db_url)
    try:
        # Migration 0013 started the head from the chain as it was.
        with store._read() as conn:
            assert audit.stored_head(conn) == audit.AuditHead(2, 2, PINNED[1])
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


def _append_as_before_0013(conn: Any, records: list[dict[str, Any]]) -> None:
    """Write records into a database older than the audit head, as the code of then did."""
    prev = audit.GENESIS
    for record in records:
        row = {
            "at": record["at"],
            "actor": record["actor"],
            "action": record["action"],
            "entity": record["entity"],
            "entity_id": str(record.get("entity_id", "")),
            "before": record.get("before"),
            "after": record.get("after"),
        }
        digest = audit._digest(prev, row)
        conn.execute(audit.AUDIT.insert().values(**row, prev_hash=prev, hash=digest))
        prev = digest


def _seed(store: Store, n: int) -> list[int]:
    with store._write() as conn:
        for i in range(n):
            audit.append(
                conn, at=AT, actor="ann", action="draft.approve", entity="draft", entity_id=i
            )
    with store._read() as conn:
        return [r.id for r in conn.execute(select(audit.AUDIT.c.id).order_by("id"))]


def test_deleting_the_newest_records_is_caught_and_they_are_named(store: Store) -> None:
    ids = _seed(store, 6)
    with store._write() as conn:
        conn.execute(audit.AUDIT.delete().where(audit.AUDIT.c.id >= ids[4]))
    check = store.verify_audit()
    assert not check.ok
    assert check.records == 4 and check.first_bad_id == ids[4]
    assert "2 record(s) removed from the end" in check.problem
    assert f"missing: #{ids[4]} to #{ids[5]}" in check.problem


def test_deleting_every_record_is_caught(store: Store) -> None:
    _seed(store, 3)
    with store._write() as conn:
        conn.execute(audit.AUDIT.delete())
    check = store.verify_audit()
    assert not check.ok and "3 record(s) removed from the end" in check.problem


def test_deleting_the_head_itself_is_caught(store: Store) -> None:
    _seed(store, 3)
    with store._write() as conn:
        conn.execute(audit.HEAD.delete())
    check = store.verify_audit()
    assert not check.ok and "head (table audit_head) is missing" in check.problem
    # An append after that does not quietly start a fresh head over the old records.
    _seed(store, 1)
    assert not store.verify_audit().ok


def test_a_head_kept_outside_catches_what_rewriting_the_stored_head_hides(store: Store) -> None:
    ids = _seed(store, 5)
    check, kept = store.audit_head()
    assert check.ok and kept.records == 5 and kept.last_id == ids[-1]
    assert audit.AuditHead.parse(str(kept)) == kept
    # Someone with write access removes the newest two records and fixes the stored head.
    with store._write() as conn:
        conn.execute(audit.AUDIT.delete().where(audit.AUDIT.c.id >= ids[3]))
        last = conn.execute(select(audit.AUDIT.c.hash).where(audit.AUDIT.c.id == ids[2]))
        conn.execute(
            audit.HEAD.update().values(records=3, last_id=ids[2], last_hash=last.scalar_one())
        )
    assert store.verify_audit().ok  # what the database alone can prove
    check = store.verify_audit(kept)
    assert not check.ok
    assert "the head you kept says 5 record(s)" in check.problem
    assert f"missing: #{ids[3]} to #{ids[4]}" in check.problem


def test_a_kept_head_still_verifies_after_the_chain_grows(store: Store) -> None:
    _seed(store, 2)
    _, kept = store.audit_head()
    _seed(store, 3)
    assert store.verify_audit(kept) == audit.ChainCheck(True, 5)


def test_a_kept_head_catches_a_rewritten_chain(store: Store) -> None:
    _seed(store, 3)
    _, kept = store.audit_head()
    # Rebuild the whole log with different content: every link is valid again.
    with store._write() as conn:
        conn.execute(audit.AUDIT.delete())
        conn.execute(audit.HEAD.delete())
    with store._write() as conn:
        for i in range(3):
            audit.append(
                conn, at=AT, actor="mallory", action="draft.approve", entity="draft", entity_id=i
            )
    assert store.verify_audit().ok
    check = store.verify_audit(kept)
    assert not check.ok and "the chain up to there was rewritten" in check.problem


@pytest.mark.parametrize("bad", ["", "3", "3:4", "x:4:" + "a" * 64, "3:4:" + "g" * 64])
def test_a_malformed_head_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        audit.AuditHead.parse(bad)


def test_audit_head_and_verify_expect_head_from_the_command_line(
    tmp_path: Path,
    x_api: XApiServer,
) -> None:
    config = _config(tmp_path, x_api.url)
    settings = load_settings(config, environ={})
    world = build_world(settings)
    try:
        for name in ("fay", "gus", "hal"):
            world.ingest(x_mention(x_api, x_api.add_user(name), f"@O2 awful, says {name}"))
    finally:
        world.listener.close()
    printed = listener_cli(config, "audit", "head")
    assert printed.returncode == 0, printed.stderr
    kept = printed.stdout.strip()
    head = audit.AuditHead.parse(kept)
    as_json = json.loads(listener_cli(config, "audit", "head", "--json").stdout)
    assert as_json["head"] == kept and as_json["records"] == head.records
    ok = listener_cli(config, "audit", "verify", "--expect-head", kept)
    assert ok.returncode == 0 and "and the head you kept" in ok.stderr

    store = Store.open(settings.database_url)
    try:
        with store._write() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": head.last_id})
    finally:
        store.close()
    removed = listener_cli(config, "audit", "verify")
    assert removed.returncode == 1
    assert "1 record(s) removed from the end" in removed.stderr
    assert f"missing: #{head.last_id}" in removed.stderr
    bad = listener_cli(config, "audit", "verify", "--expect-head", "nonsense")
    assert bad.returncode != 0 and "records:last_id:hash" in bad.stderr
