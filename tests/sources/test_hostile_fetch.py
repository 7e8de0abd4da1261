"""Fetches end and stay small whatever the server does: dripping, redirecting, compression bombs.

The servers are real sockets (tests/support/fakes/hostile_http.py). A fetch runs in a thread and the
test checks that it ended within the promise (twice its timeout plus 15 s): that is
correctness, not speed, so the margin is generous. Memory is checked with tracemalloc, which
counts every bytes object zlib produces.
"""

from __future__ import annotations

import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from listener.domain import FetchBatch, PollState
from listener.errors import SourceError
from listener.settings import BlueskySourceSettings, XSourceSettings, validate_settings
from listener.sources.bluesky import SEARCH_PATH, BlueskySource
from listener.sources.feed import FeedSource
from listener.sources.x import XSource
from tests.support.fakes.hostile_http import HostileServer, deflate_bomb, stacked_gzip_bomb
from tests.support.processes import start_service, write_settings

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><guid>1</guid><title>O2 is down</title><description>no signal</description>"
    b"</item></channel></rss>"
)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer(drip=0.05) as server:
        yield server


def ends_within_promise(
    fetch: Callable[[], list[FetchBatch]], timeout: float
) -> list[FetchBatch] | BaseException:
    """Run `fetch` in a thread; fail if it is still running after 2 x timeout + 15 s."""
    outcome: list[list[FetchBatch] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(fetch())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(2 * timeout + 15)
    assert not thread.is_alive(), f"the fetch was still running after {2 * timeout + 15:g}s"
    return outcome[0]


def feed(url: str, *, timeout: float = 1.0, max_bytes: int = 10_000_000) -> FeedSource:
    return FeedSource("hostile", url, timeout=timedelta(seconds=timeout), max_bytes=max_bytes)


def fetch_all(source: FeedSource) -> Callable[[], list[FetchBatch]]:
    def run() -> list[FetchBatch]:
        try:
            return list(source.fetch(PollState()))
        finally:
            source.close()

    return run


def test_headers_dripped_forever_are_cut_off_at_the_deadline(hostile: HostileServer) -> None:
    # One byte every 0.05 s: no single read ever waits as long as the 1 s timeout.
    hostile.drip("/feed.xml")
    result = ends_within_promise(fetch_all(feed(hostile.url("/feed.xml"))), 1.0)
    assert isinstance(result, SourceError)
    assert "no complete answer within 1s" in str(result)


def test_one_deadline_covers_every_redirect_hop(hostile: HostileServer) -> None:
    # Each of five redirects takes about 3 s to drip; every hop alone is within a 2 s read
    # timeout, and together they would take 15 s and then drip forever.
    hostile.redirect_chain("/hop", hops=5)
    result = ends_within_promise(fetch_all(feed(hostile.url("/hop/1"), timeout=2.0)), 2.0)
    assert isinstance(result, SourceError)
    assert "no complete answer within 2s" in str(result)


def test_a_dripped_body_is_cut_off_at_the_deadline(hostile: HostileServer) -> None:
    body = RSS * 50
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    hostile.interval = 0.01
    hostile.drip("/feed.xml", response=head + body)
    result = ends_within_promise(fetch_all(feed(hostile.url("/feed.xml"))), 1.0)
    assert isinstance(result, SourceError)
    assert "no complete answer within 1s" in str(result)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip, gzip", lambda: stacked_gzip_bomb(256 << 20, layers=2)),
        ("gzip, gzip, gzip", lambda: stacked_gzip_bomb(256 << 20, layers=3)),
        ("deflate", lambda: deflate_bomb(256 << 20)),
        ("deflate, gzip", lambda: gzip.compress(deflate_bomb(256 << 20))),
    ],
)
def test_a_compression_bomb_is_refused_after_the_size_cap_not_after_decoding_it(
    hostile: HostileServer, encoding: str, body: Callable[[], bytes]
) -> None:
    hostile.raw(
        "/bomb.xml", {"Content-Type": "application/rss+xml", "Content-Encoding": encoding}, body()
    )
    tracemalloc.start()
    try:
        result = ends_within_promise(
            fetch_all(feed(hostile.url("/bomb.xml"), max_bytes=2_000_000)), 1.0
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, SourceError)
    assert "larger than the 2,000,000 byte limit" in str(result)
    # 256 MB decoded would be 256 MB resident; the cap stops decoding just past 2 MB.
    assert peak < 32 << 20, f"decoding held {peak / 2**20:.0f} MB"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda b: b),
    ],
)
def test_an_honest_compressed_feed_is_decoded(
    hostile: HostileServer, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    hostile.raw(
        "/feed.xml",
        {"Content-Type": "application/rss+xml", "Content-Encoding": encoding},
        encode(RSS),
    )
    result = ends_within_promise(fetch_all(feed(hostile.url("/feed.xml"))), 1.0)
    assert not isinstance(result, BaseException), result
    [batch] = result
    assert [m.title for m in batch.mentions] == ["O2 is down"]


def test_an_encoding_we_did_not_ask_for_is_refused_in_plain_words(
    hostile: HostileServer,
) -> None:
    hostile.raw("/feed.xml", {"Content-Encoding": "br"}, b"\x1b\x00\x00")
    result = ends_within_promise(fetch_all(feed(hostile.url("/feed.xml"))), 1.0)
    assert isinstance(result, SourceError)
    assert "Content-Encoding 'br'" in str(result)


def test_a_corrupt_gzip_body_is_a_source_error(hostile: HostileServer) -> None:
    hostile.raw("/feed.xml", {"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage-garbage")
    result = ends_within_promise(fetch_all(feed(hostile.url("/feed.xml"))), 1.0)
    assert isinstance(result, SourceError)
    assert "gzip encoding is corrupt" in str(result)


def test_sigterm_does_not_wait_for_a_dripping_feed(hostile: HostileServer, tmp_path: Path) -> None:
    # A 120 s timeout: without stopping the fetch, the service would wait up to two minutes.
    hostile.drip("/feed.xml")
    config = write_settings(
        tmp_path / "settings.toml",
        database_url=f"sqlite:///{tmp_path / 'listener.db'}",
        feeds=[("drip", hostile.url("/feed.xml"))],
        every="1h",
        timeout="120s",
    )
    service = start_service(config, tmp_path / "run.log")
    try:
        deadline = threading.Event()
        for _ in range(600):
            if "/feed.xml" in hostile.hits or service.process.poll() is not None:
                break
            deadline.wait(0.05)
        assert "/feed.xml" in hostile.hits, service.output
        # Well inside the 120 s the fetch would otherwise be allowed.
        code = service.terminate(timeout=45)
    finally:
        if service.process.poll() is None:
            service.kill()
    assert code == 0, service.output


def bluesky(url: str, *, max_bytes: int = 10_000_000) -> Callable[[], list[FetchBatch]]:
    settings = validate_settings(
        {
            "brands": [{"name": "acme", "terms": ["acme"]}],
            "sources": [
                {
                    "kind": "bluesky",
                    "name": "bsky",
                    "api_url": url,
                    "timeout": "1s",
                    "max_bytes": max_bytes,
                }
            ],
        }
    )
    config = settings.sources[0]
    assert isinstance(config, BlueskySourceSettings)
    source = BlueskySource(config, queries=["acme"])

    def run() -> list[FetchBatch]:
        try:
            return list(source.fetch(PollState()))
        finally:
            source.close()

    return run


def test_the_bluesky_api_is_held_to_the_same_deadline(hostile: HostileServer) -> None:
    hostile.drip(SEARCH_PATH)
    result = ends_within_promise(bluesky(hostile.url("")), 1.0)
    assert isinstance(result, SourceError)
    assert "did not answer within 1s" in str(result)


def test_the_bluesky_api_is_held_to_the_decoded_size_cap(hostile: HostileServer) -> None:
    bomb = stacked_gzip_bomb(256 << 20, layers=2)
    hostile.raw(
        SEARCH_PATH, {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}, bomb
    )
    tracemalloc.start()
    try:
        result = ends_within_promise(bluesky(hostile.url(""), max_bytes=2_000_000), 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, SourceError)
    assert "larger than max_bytes=2000000" in str(result)
    assert peak < 32 << 20, f"decoding held {peak / 2**20:.0f} MB"


def test_a_proxy_from_the_environment_is_used_and_held_to_the_deadline(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The feed is fetched through the proxy named in HTTP_PROXY (here a server that drips).
    target = "http://127.0.0.1:9/feed.xml"
    hostile.drip(target)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", hostile.url(""))
    result = ends_within_promise(fetch_all(feed(target)), 1.0)
    assert hostile.hits == [target]
    assert isinstance(result, SourceError)
    assert "no complete answer within 1s" in str(result)


def x_source(url: str) -> Callable[[], list[FetchBatch]]:
    settings = validate_settings(
        {
            "brands": [{"name": "acme", "terms": ["acme"]}],
            "sources": [{"kind": "x", "name": "x", "api_url": url, "timeout": "1s"}],
        }
    )
    config = settings.sources[0]
    assert isinstance(config, XSourceSettings)
    source = XSource(config, query="acme", bearer_token="t")

    def run() -> list[FetchBatch]:
        try:
            return list(source.fetch(PollState()))
        finally:
            source.close()

    return run


def test_the_x_api_is_held_to_one_deadline(hostile: HostileServer) -> None:
    # tweepy goes through requests: its adapter's watchdog cuts a dripping answer.
    hostile.drip("/2/tweets/search/recent")
    result = ends_within_promise(x_source(hostile.url("")), 1.0)
    assert isinstance(result, SourceError)
    assert "did not answer" in str(result) and "within 1s" in str(result)


def test_the_x_api_is_held_to_a_size_cap(hostile: HostileServer) -> None:
    bomb = stacked_gzip_bomb(256 << 20, layers=1)
    hostile.raw(
        "/2/tweets/search/recent",
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        bomb,
    )
    tracemalloc.start()
    try:
        result = ends_within_promise(x_source(hostile.url("")), 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, SourceError)
    assert "larger than 10,000,000 bytes" in str(result)
    assert peak < 64 << 20, f"decoding held {peak / 2**20:.0f} MB"
