"""Many feeds are polled concurrently, politely per host, and unchanged feeds cost a 304."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from listener.app import make_listener
from listener.settings import Settings
from listener.sources.polling import round_robin_by_host, source_host
from tests.support.fakes.feed_farm import FeedFarm
from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES

RSS = (FIXTURES / "feeds" / "complaints.rss").read_bytes()


@pytest.fixture
def farm() -> Iterator[FeedFarm]:
    with FeedFarm(feeds=40, latency=0.05) as farm:
        yield farm


def farm_settings(
    make_settings: Callable[..., Settings], farm: FeedFarm, db_url: str, **service: int
) -> Settings:
    return make_settings(
        database={"url": db_url},
        sources=[{"name": f"feed-{i}", "url": url} for i, url in enumerate(farm.urls())],
        service=service,
        outreach={"enabled": False},
    )


def test_polling_runs_in_parallel_but_never_more_than_the_per_host_limit(
    make_settings: Callable[..., Settings], farm: FeedFarm, sqlite_url: str
) -> None:
    settings = farm_settings(
        make_settings, farm, sqlite_url, max_concurrent_polls=16, per_host_limit=4
    )
    listener = make_listener(settings)
    try:
        reports = listener.poll()
    finally:
        listener.close()
    assert [r.source for r in reports] == [f"feed-{i}" for i in range(40)]
    assert all(r.ok for r in reports), [r.error for r in reports if r.error]
    assert farm.max_in_flight == 4


def test_the_pool_bounds_concurrency_when_the_host_limit_is_higher(
    make_settings: Callable[..., Settings], farm: FeedFarm, sqlite_url: str
) -> None:
    settings = farm_settings(
        make_settings, farm, sqlite_url, max_concurrent_polls=3, per_host_limit=20
    )
    listener = make_listener(settings)
    try:
        listener.poll()
    finally:
        listener.close()
    assert 1 < farm.max_in_flight <= 3


def test_every_entry_is_stored_once_and_a_second_pass_is_all_not_modified(
    make_settings: Callable[..., Settings], farm: FeedFarm, db_url: str
) -> None:
    settings = farm_settings(make_settings, farm, db_url, max_concurrent_polls=16, per_host_limit=8)
    listener = make_listener(settings)
    try:
        first = listener.poll()
        second = listener.poll()
        stored = {m.mention.external_id for m in listener.store.mentions(limit=10_000)}
    finally:
        listener.close()
    assert sum(r.new for r in first) == len(farm.served_ids()) == 120
    assert stored == farm.served_ids()
    assert all(r.not_modified and r.new == 0 for r in second)
    assert farm.not_modified == 40


def test_feeds_on_one_site_share_kept_alive_connections(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    # One HTTP client for all feeds: a round over six feeds on one site (one at a time, by
    # the politeness limit) and a second round all go over one kept-alive connection,
    # where a client per feed opened one connection per feed.
    for i in range(6):
        http_server.serve_feed(f"/f{i}.xml", RSS, etag=f'"v{i}"')
    settings = make_settings(
        database={"url": sqlite_url},
        sources=[{"name": f"f{i}", "url": http_server.url(f"/f{i}.xml")} for i in range(6)],
        service={"max_concurrent_polls": 4, "per_host_limit": 1},
        outreach={"enabled": False},
    )
    listener = make_listener(settings)
    try:
        first, second = listener.poll(), listener.poll()
    finally:
        listener.close()
    assert all(r.ok and r.fetched == 5 for r in first), [r.summary() for r in first]
    assert all(r.not_modified for r in second)
    assert len(http_server.requests) == 12
    assert len({r.peer for r in http_server.requests}) == 1


def test_each_feed_keeps_its_own_timeout_on_the_shared_client(
    make_settings: Callable[..., Settings], http_server: LocalServer, sqlite_url: str
) -> None:
    http_server.serve_feed("/quick.xml", RSS)
    http_server.route("/slow.xml", body=RSS, delay=4)
    settings = make_settings(
        database={"url": sqlite_url},
        sources=[
            {"name": "quick", "url": http_server.url("/quick.xml")},
            {"name": "slow", "url": http_server.url("/slow.xml"), "timeout": "1s"},
        ],
        outreach={"enabled": False},
    )
    listener = make_listener(settings)
    try:
        started = time.monotonic()
        reports = {r.source: r for r in listener.poll()}
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert reports["quick"].ok and reports["quick"].fetched == 5
    assert "timed out" in reports["slow"].error
    assert elapsed < 3.5


class Named:
    def __init__(self, name: str, url: str, kind: str = "feed") -> None:
        self.name, self.url, self.kind = name, url, kind

    def fetch(self, state: object) -> Iterator[object]:
        return iter(())

    def close(self) -> None:
        return None


def test_politeness_is_per_host_and_port_and_local_files_need_none() -> None:
    assert source_host(Named("a", "https://Blog.example/feed")) == "blog.example"
    assert source_host(Named("b", "http://127.0.0.1:8001/f")) == "127.0.0.1:8001"
    assert source_host(Named("c", "feeds/local.xml")) is None
    assert source_host(Named("d", "", kind="x")) == "x api"


def test_work_is_handed_out_one_host_at_a_time() -> None:
    sources = [Named(f"a{i}", f"https://a.example/{i}") for i in range(3)] + [
        Named("b0", "https://b.example/0"),
        Named("c0", "https://c.example/0"),
    ]
    order = [s.name for s in round_robin_by_host(sources)]  # type: ignore[arg-type]
    assert order == ["a0", "b0", "c0", "a1", "a2"]
