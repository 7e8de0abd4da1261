"""Concurrent polls are written together, and one bad batch never costs the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from listener.app import make_listener
from listener.domain import BatchWrite
from listener.errors import StoreError
from listener.settings import Settings
from listener.store import Store
from listener.store.group_commit import GroupCommit, PendingWrite
from listener.store.mentions import MENTION
from listener.store.sources import SOURCE
from listener.store.store import StoredGroup
from tests.support.fakes.feed_farm import FeedFarm

AT = datetime(2026, 3, 6, 9, 41, tzinfo=UTC)


def _submit_from_threads(commit: GroupCommit, count: int) -> list[PendingWrite]:
    results: list[PendingWrite] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        written = commit.submit(BatchWrite((), f"source-{i}"), AT)
        with lock:
            results.append(written)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_writes_arriving_while_one_is_written_share_the_next_transaction() -> None:
    groups: list[list[str | None]] = []

    def write_group(group: Sequence[PendingWrite]) -> None:
        groups.append([p.write.source for p in group])
        time.sleep(0.02)  # a commit takes time; meanwhile the others queue up

    results = _submit_from_threads(GroupCommit(write_group), 40)
    assert len(results) == 40 and all(p.done.is_set() and p.error is None for p in results)
    written = [source for group in groups for source in group]
    assert sorted(written, key=str) == sorted((f"source-{i}" for i in range(40)), key=str)
    assert len(groups) < 20, groups  # far fewer transactions than writes


def test_a_crash_in_the_writer_reaches_the_waiters_of_that_group_and_the_next_group_goes_on() -> (
    None
):
    calls = 0

    def write_group(group: Sequence[PendingWrite]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(0.02)
            raise RuntimeError("boom")

    commit = GroupCommit(write_group)
    first = _submit_from_threads(commit, 1)
    later = _submit_from_threads(commit, 5)
    assert isinstance(first[0].error, RuntimeError)
    assert all(p.error is None for p in later)


class PoisonedStore(Store):
    """A real store that refuses any group holding the batch of the source named 'feed-3'."""

    def ingest_group(self, writes: Sequence[BatchWrite], *, at: datetime) -> StoredGroup:
        if any(w.source == "feed-3" and w.items for w in writes):
            raise StoreError("database refused: value too long for feed-3")
        return super().ingest_group(writes, at=at)


@pytest.fixture
def farm() -> Iterator[FeedFarm]:
    with FeedFarm(feeds=12, latency=0.05) as farm:
        yield farm


def test_one_refused_batch_fails_only_its_own_source(
    make_settings: Callable[..., Settings], farm: FeedFarm, db_url: str
) -> None:
    settings = make_settings(
        database={"url": db_url},
        sources=[{"name": f"feed-{i}", "url": url} for i, url in enumerate(farm.urls())],
        service={"max_concurrent_polls": 12, "per_host_limit": 12},
    )
    store = PoisonedStore(Store.open(db_url).engine)
    listener = make_listener(settings, store=store)
    try:
        reports = {r.source: r for r in listener.poll()}
        with store._read() as conn:
            counts = select(MENTION.c.source, func.count()).group_by(MENTION.c.source)
            stored = {source: n for source, n in conn.execute(counts)}
            cursors = {
                name: etag for name, etag in conn.execute(select(SOURCE.c.name, SOURCE.c.etag))
            }
    finally:
        listener.close()
    assert "value too long" in reports["feed-3"].error
    assert "feed-3" not in stored and cursors["feed-3"] == ""  # nothing, not even its cursor
    assert all(reports[f"feed-{i}"].ok for i in range(12) if i != 3)
    assert all(stored[f"feed-{i}"] == 3 and cursors[f"feed-{i}"] for i in range(12) if i != 3)
