"""Source leases: one instance polls a source per interval; a dead instance's sources free up.

The rules are pure (listener.sources.leases); the store applies them with SELECT ... FOR UPDATE SKIP
LOCKED on PostgreSQL and a compare-and-set UPDATE on SQLite, checked here on both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from listener.sources.leases import (
    LeaseState,
    format_instance_id,
    is_claimable,
    next_due,
    schedule_anchor,
)
from listener.store import Store
from listener.store import leases as lease_rows

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def test_a_source_without_a_lease_or_past_its_expiry_can_be_claimed() -> None:
    assert is_claimable(LeaseState("", None), T0)
    assert is_claimable(LeaseState("a", T0 - timedelta(seconds=1)), T0)
    assert not is_claimable(LeaseState("a", T0 + timedelta(seconds=1)), T0)


def test_a_polled_source_is_due_again_a_little_before_its_full_interval() -> None:
    due = next_due(T0, timedelta(minutes=4))
    assert T0 + timedelta(minutes=2) < due < T0 + timedelta(minutes=4)
    # however long the interval, it comes back at most a minute early
    assert next_due(T0, timedelta(hours=1)) == T0 + timedelta(minutes=59)


def test_every_instance_times_a_source_alike_and_sources_are_spread_over_the_interval() -> None:
    every = timedelta(minutes=5)
    assert schedule_anchor("blog", every) == schedule_anchor("blog", every)
    offsets = {schedule_anchor(f"feed-{i}", every) for i in range(50)}
    assert len(offsets) > 40
    assert all(timedelta(0) <= o - min(offsets) < every for o in offsets)


def test_instance_ids_are_the_configured_name_or_host_pid_token() -> None:
    assert format_instance_id("eu-1", host="h", pid=1, token="ab") == "eu-1"
    assert format_instance_id(" ", host="web", pid=42, token="9f") == "web:42:9f"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    store.sources.ensure([(f"feed-{i}", "feed", f"https://e.example/{i}") for i in range(20)])
    yield store
    store.close()


def claim(store: Store, names: list[str], owner: str, now: datetime) -> list[str]:
    with store._write() as conn:
        return lease_rows.claim(conn, names, owner=owner, now=now, until=now + LEASE)


def test_only_one_instance_gets_a_source_and_the_other_skips_it(store: Store) -> None:
    assert claim(store, ["feed-0"], "a", T0) == ["feed-0"]
    assert claim(store, ["feed-0"], "b", T0 + timedelta(seconds=1)) == []
    assert claim(store, ["feed-0"], "a", T0 + timedelta(seconds=1)) == []


def test_a_lease_left_by_a_dead_instance_is_taken_over_once_it_expires(store: Store) -> None:
    claim(store, ["feed-0"], "dead", T0)
    assert claim(store, ["feed-0"], "b", T0 + LEASE - timedelta(seconds=1)) == []
    assert claim(store, ["feed-0"], "b", T0 + LEASE) == ["feed-0"]


def test_renewing_keeps_the_lease_and_a_stranger_cannot_renew_it(store: Store) -> None:
    claim(store, ["feed-0"], "a", T0)
    with store._write() as conn:
        assert lease_rows.renew(conn, ["feed-0"], owner="b", until=T0 + 10 * LEASE) == set()
        assert lease_rows.renew(conn, ["feed-0"], owner="a", until=T0 + 2 * LEASE) == {"feed-0"}
    assert claim(store, ["feed-0"], "b", T0 + LEASE + timedelta(seconds=1)) == []
    with store._read() as conn:
        assert lease_rows.lease_states(conn)["feed-0"] == LeaseState("a", T0 + 2 * LEASE)


def test_after_a_poll_nobody_polls_the_source_again_before_it_is_due(store: Store) -> None:
    claim(store, ["feed-0"], "a", T0)
    due = T0 + timedelta(minutes=5)
    with store._write() as conn:
        assert not lease_rows.release(conn, "feed-0", owner="b", not_before=T0)
        assert lease_rows.release(conn, "feed-0", owner="a", not_before=due)
    assert claim(store, ["feed-0"], "b", due - timedelta(seconds=1)) == []
    assert claim(store, ["feed-0"], "b", due) == ["feed-0"]


def test_many_instances_claiming_at_once_share_the_sources_without_overlap(store: Store) -> None:
    names = [f"feed-{i}" for i in range(20)]
    got: dict[str, list[str]] = {}
    start = threading.Barrier(5)

    def instance(owner: str) -> None:
        start.wait()
        held: list[str] = []
        for _ in range(3):
            held += claim(store, names, owner, T0)
        got[owner] = held

    threads = [threading.Thread(target=instance, args=(f"i{n}",)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [name for held in got.values() for name in held]
    assert sorted(claimed) == sorted(names)  # every source once, none twice


def test_claiming_a_batch_respects_the_limit(store: Store) -> None:
    names = [f"feed-{i}" for i in range(20)]
    with store._write() as conn:
        first = lease_rows.claim(conn, names, owner="a", now=T0, until=T0 + LEASE, limit=5)
    assert len(first) == 5
    rest = claim(store, names, "b", T0)
    assert set(first).isdisjoint(rest) and len(rest) == 15
