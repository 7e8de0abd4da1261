"""The review desk's storage: accounts, the stored session secret, keyset pages, capped counts,
chart series and snooze wake-ups, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from listener.app import Listener
from listener.errors import NotAllowed, NotFound
from listener.outreach.review import ReviewAction
from listener.store import DraftFilter, MentionFilter, users
from listener.store import desk as desk_store
from listener.web.auth import session_secret, verify_password
from tests.support.web import T0, add_user, seeded_listener


@pytest.fixture
def listener(make_settings: Callable[..., Any], db_url: str) -> Iterator[Listener]:
    found = seeded_listener(make_settings(database={"url": db_url}, scoring={"model": "lexicon"}))
    yield found
    found.close()


def test_accounts_keep_only_hashes_and_refuse_duplicates(listener: Listener) -> None:
    add_user(listener, "ann", "approver", "a long password")
    with listener.store._read() as conn:
        ann = users.get_user(conn, "ann")
    assert ann.password_hash.startswith("$argon2id$")
    assert verify_password(ann.password_hash, "a long password")
    assert not verify_password(ann.password_hash, "a wrong password")
    assert "hash" not in str(ann.as_dict())
    with pytest.raises(NotAllowed, match="already a user named 'ann'"):
        add_user(listener, "ann", "viewer")
    with pytest.raises(NotAllowed, match="role 'root' is unknown"):
        add_user(listener, "bob", "root")
    with listener.store._read() as conn, pytest.raises(NotFound):
        users.get_user(conn, "nobody")
    assert listener.store.audit(limit=1)[0].action == "user.add"


def test_the_session_secret_comes_from_the_environment_or_is_kept_in_the_database(
    listener: Listener,
) -> None:
    assert session_secret(listener, {"LISTENER_WEB_SECRET_KEY": "s" * 40}) == "s" * 40
    first = session_secret(listener, {})
    assert len(first) >= 40
    assert session_secret(listener, {}) == first  # a restart keeps everyone signed in


def test_queue_pages_cover_every_pending_draft_once_most_urgent_first(listener: Listener) -> None:
    f = DraftFilter(status="pending")
    seen = []
    cursor = None
    with listener.store._read() as conn:
        while True:
            items, cursor = desk_store.queue_page(conn, f, after=cursor, limit=2)
            seen.extend(items)
            if cursor is None:
                break
    assert [i.draft.id for i in seen] == [d.id for d in listener.store.drafts(f, limit=100)]
    assert all(i.mention is not None and i.mention.id == i.draft.mention_id for i in seen)


def test_counts_stop_at_the_cap(listener: Listener) -> None:
    with listener.store._read() as conn:
        everything = desk_store.count_drafts_capped(conn, DraftFilter(status="pending"))
        capped = desk_store.count_drafts_capped(conn, DraftFilter(status="pending"), cap=2)
    assert everything == listener.store.count_drafts() >= 5
    assert capped == 3  # "2+"


def test_the_feed_pages_newest_first(listener: Listener) -> None:
    seen = []
    cursor = None
    with listener.store._read() as conn:
        while True:
            found, cursor = desk_store.mention_page(conn, MentionFilter(), before=cursor, limit=4)
            seen.extend(found)
            if cursor is None:
                break
    assert [m.id for m in seen] == [m.id for m in listener.store.mentions(limit=100)]


def test_volume_series_counts_mentions_and_unhappy_ones_per_brand_and_bucket(
    listener: Listener,
) -> None:
    with listener.store._read() as conn:
        points = desk_store.volume_series(
            conn, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), bucket_seconds=3600
        )
    assert {p.brand for p in points} == {"O2", "Skyline Air"}
    assert sum(p.total for p in points) == listener.store.count_mentions()
    unhappy = listener.store.count_mentions(MentionFilter(dissatisfied=True))
    assert sum(p.dissatisfied for p in points) == unhappy
    assert all(p.start == p.start.replace(minute=0, second=0, microsecond=0) for p in points)
    assert all(p.start.tzinfo is not None for p in points)


def test_snoozed_drafts_wake_when_their_time_is_up(listener: Listener) -> None:
    now = listener.clock.now()
    draft = listener.store.drafts(limit=1)[0]
    listener.store.review(
        draft.id,
        ReviewAction.SNOOZE,
        actor="ann",
        at=now,
        snooze_until=now + timedelta(hours=1),
    )
    with listener.store._write() as conn:
        assert desk_store.wake_snoozed(conn, now + timedelta(minutes=59)) == []
    with listener.store._write() as conn:
        assert desk_store.wake_snoozed(conn, now + timedelta(hours=1)) == [draft.id]
    woken = listener.store.draft(draft.id)
    assert woken.status.value == "pending" and woken.snoozed_until is None
    assert listener.store.draft_history(draft.id)[-1]["action"] == "woken"
    assert listener.store.verify_audit().ok
