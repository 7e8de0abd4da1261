"""Feeds fetched and parsed in the fetch worker process: same mentions, same errors, same 304s,
and a worker that dies or hangs costs a poll nothing (it is fetched here instead)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from listener.app import Listener, make_listener
from listener.domain import Engagement, FetchBatch, Mention, PollState
from listener.settings import Settings
from listener.sources import fetch_worker
from listener.sources.fetch_worker import (
    AUTO_MIN_FEEDS,
    WorkerFetchedSource,
    pack_batch,
    unpack_batch,
    worker_wanted,
)
from tests.support.fakes.feed_farm import FeedFarm
from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES

RSS = (FIXTURES / "feeds" / "complaints.rss").read_bytes()


@pytest.fixture
def farm() -> Iterator[FeedFarm]:
    with FeedFarm(feeds=6) as farm:
        yield farm


def farm_listener(
    make_settings: Callable[..., Settings], urls: list[str], db_url: str, *, worker: bool
) -> Listener:
    settings = make_settings(
        database={"url": db_url},
        sources=[{"name": f"feed-{i}", "url": url} for i, url in enumerate(urls)],
        service={"fetch_worker": worker, "max_concurrent_polls": 4},
        outreach={"enabled": False},
    )
    return make_listener(settings)


def started(listener: Listener) -> fetch_worker.FetchWorker:
    worker = listener.fetch_worker
    assert worker is not None, "fetch_worker = true must give the listener a fetch worker"
    assert worker.wait_until_ready(timeout=60), "the fetch worker did not start in 60 s"
    return worker


def stored_mentions(listener: Listener) -> dict[str, Mention]:
    return {s.mention.external_id: s.mention for s in listener.store.mentions(limit=10_000)}


def test_the_worker_fetches_and_the_store_gets_what_fetching_here_would_give(
    make_settings: Callable[..., Settings], farm: FeedFarm, db_url: str, tmp_path: Path
) -> None:
    remote = farm_listener(make_settings, farm.urls(), db_url, worker=True)
    try:
        worker = started(remote)
        first = remote.poll()
        second = remote.poll()
        through_worker = stored_mentions(remote)
    finally:
        remote.close()
    assert all(r.ok for r in first), [r.error for r in first]
    assert sum(r.new for r in first) == 18
    # Every fetch went to the worker, and the validators it saved made the second pass 304s.
    assert worker.fetched == 12
    assert all(r.not_modified and r.new == 0 for r in second)
    assert farm.not_modified == 6

    local = farm_listener(
        make_settings, farm.urls(), f"sqlite:///{tmp_path / 'local.db'}", worker=False
    )
    try:
        assert local.fetch_worker is None
        local.poll()
        fetched_here = stored_mentions(local)
    finally:
        local.close()
    assert through_worker.keys() == fetched_here.keys()
    for key, mention in through_worker.items():
        # Fetch times differ by when each poll ran; everything else is the same.
        assert mention.text == fetched_here[key].text
        assert mention.title == fetched_here[key].title
        assert mention.url == fetched_here[key].url
        assert mention.author == fetched_here[key].author
        assert mention.published_at == fetched_here[key].published_at


def test_a_source_error_from_the_worker_is_reported_as_the_source_itself_would(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    http_server.route("/broken.xml", status=500, body="oops")
    http_server.route("/busy.xml", status=429, headers={"Retry-After": "120"})
    http_server.route("/garbage.xml", body=b"\x00\x01 not a feed", headers={"Content-Type": "x"})
    http_server.serve_feed("/good.xml", RSS, etag='"v1"')
    paths = ["/broken.xml", "/busy.xml", "/garbage.xml", "/good.xml"]
    listener = farm_listener(
        make_settings, [http_server.url(p) for p in paths], sqlite_url, worker=True
    )
    try:
        worker = started(listener)
        broken, busy, garbage, good = listener.poll()
        statuses = {s.name: s for s in listener.store.sources.statuses(datetime.now(UTC))}
    finally:
        listener.close()
    assert worker.fetched == 1  # the good feed; the others came back as errors
    assert broken.error is not None and "HTTP 500; will retry" in broken.error
    assert busy.error is not None and "slow down" in busy.error
    assert busy.retry_at is not None and busy.retry_at > datetime.now(UTC) + timedelta(seconds=60)
    assert garbage.error
    assert good.ok and good.new > 0
    assert statuses["feed-0"].last_error == broken.error
    assert statuses["feed-1"].retry_at == busy.retry_at


def test_a_killed_worker_costs_nothing_and_is_started_again(
    make_settings: Callable[..., Settings],
    farm: FeedFarm,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetch_worker, "RESTART_AFTER", timedelta(0))
    listener = farm_listener(make_settings, farm.urls(), sqlite_url, worker=True)
    try:
        worker = started(listener)
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        reports = listener.poll()
        # The first poll to find it dead fetched here; the others did too or went to the new
        # worker once it was up. Either way every entry is stored, once.
        assert all(r.ok for r in reports), [r.error for r in reports]
        assert sum(r.new for r in reports) == 18
        assert worker.pid != pid
        assert worker.wait_until_ready(timeout=60)
        farm.publish(0, 2)
        before = worker.fetched
        again = listener.poll()
        assert worker.fetched - before == 6
        assert sum(r.new for r in again) == 2
    finally:
        listener.close()


def test_a_worker_that_does_not_answer_in_time_is_replaced_by_fetching_here(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    http_server.route("/slow.xml", body=RSS, delay=1.0, headers={"Content-Type": "text/xml"})
    listener = farm_listener(make_settings, [http_server.url("/slow.xml")], sqlite_url, worker=True)
    try:
        worker = started(listener)
        worker.answer_within = timedelta(seconds=0.2)
        (report,) = listener.poll()
        assert report.ok and report.new > 0  # fetched again, here
        assert worker.fetched == 0
        assert worker.pid is None  # stopped; started again after RESTART_AFTER
        assert http_server.hits("/slow.xml") == 2
    finally:
        listener.close()


@pytest.fixture
def one_feed(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> Iterator[Listener]:
    """A listener with one feed and its fetch worker started."""
    http_server.serve_feed("/feed.xml", RSS)
    listener = farm_listener(make_settings, [http_server.url("/feed.xml")], sqlite_url, worker=True)
    try:
        started(listener)
        yield listener
    finally:
        listener.close()


def test_a_source_the_worker_does_not_know_is_fetched_here(one_feed: Listener) -> None:
    listener = one_feed
    worker = started(listener)
    source = listener.sources["feed-0"]
    assert isinstance(source, WorkerFetchedSource)
    renamed = WorkerFetchedSource(source.source, worker)
    renamed.name = "not-in-settings"
    (batch,) = list(renamed.fetch(PollState()))
    assert batch.mentions and worker.fetched == 0


def test_a_batch_survives_the_trip_between_processes_unchanged() -> None:
    hostile = "{{ 7*7 }} <script>alert(1)</script> \x00\x1f \u202e emoji 😡 \ud800"[:-1]
    mention = Mention(
        source="s",
        external_id="id-1",
        text=hostile,
        title="<b>title</b>",
        url="https://example.org/a?b=c",
        author="@who",
        author_name="Who",
        author_followers=None,
        author_verified=True,
        author_email="a@example.org",
        published_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        fetched_at=None,
        lang="en",
        engagement=Engagement(replies=1, reposts=2, likes=3, quotes=4),
        source_kind="mastodon",
        in_reply_to="x",
    )
    batch = FetchBatch([mention], PollState("c", '"e"', "lm"), notes=("a note",))
    assert unpack_batch(pack_batch(batch)) == batch
    empty = FetchBatch((), PollState(), not_modified=True)
    again = unpack_batch(pack_batch(empty))
    assert again.not_modified and list(again.mentions) == [] and again.state == PollState()


@pytest.mark.parametrize(
    ("setting", "feeds", "cores", "wanted"),
    [
        ("auto", AUTO_MIN_FEEDS, 2, True),
        ("auto", AUTO_MIN_FEEDS - 1, 8, False),
        ("auto", 1000, 1, False),
        (True, 1, 1, True),
        (False, 1000, 8, False),
    ],
)
def test_when_the_worker_is_wanted(setting: Any, feeds: int, cores: int, wanted: bool) -> None:
    assert worker_wanted(setting, feeds, cores) is wanted


def test_the_setting_is_validated(make_settings: Callable[..., Settings]) -> None:
    from listener.errors import SettingsError

    with pytest.raises((SettingsError, ValueError), match="fetch_worker"):
        make_settings(service={"fetch_worker": "sometimes"})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until reaped; its state says it is gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_poll_that_finds_every_channel_taken_fetches_here(one_feed: Listener) -> None:
    listener = one_feed
    worker = started(listener)
    assert worker.channels == 4
    free = worker._free
    assert free is not None
    taken = [free.get_nowait() for _ in range(worker.channels)]
    (report,) = listener.poll()
    assert report.ok and report.new > 0 and worker.fetched == 0
    for channel in taken:
        free.put(channel)
    (again,) = listener.poll()
    assert again.ok and worker.fetched == 1
