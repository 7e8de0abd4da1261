"""The feed source against a real local HTTP server: conditional GET, errors, hostile bytes."""

from datetime import timedelta
from pathlib import Path

import pytest

from listener.domain import PollState
from listener.errors import RateLimited, SourceError
from listener.sources.feed import FeedSource
from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES

FIXTURES = FIXTURES / "feeds"
RSS = (FIXTURES / "complaints.rss").read_bytes()


def fetch(server: LocalServer, path: str, state: PollState = PollState(), **kw):
    source = FeedSource("test", server.url(path), **kw)
    try:
        return list(source.fetch(state))
    finally:
        source.close()


def test_a_feed_becomes_mentions_with_plain_text(http_server: LocalServer) -> None:
    http_server.serve_feed("/feed.xml", RSS)
    [batch] = fetch(http_server, "/feed.xml")
    by_id = {m.external_id: m for m in batch.mentions}
    assert len(by_id) == 5
    spam = by_id["spam-1"]
    assert spam.text.startswith("I keep getting spam texts from an O2 number")
    assert "<" not in spam.text and "alert" not in spam.text
    assert spam.url == "https://blog.example/spam-texts"
    assert (
        spam.published_at is not None
        and spam.published_at.isoformat() == "2026-03-06T09:41:00+00:00"
    )
    assert spam.source == "test" and spam.source_kind == "feed"


def test_hostile_markup_is_reduced_to_inert_text(http_server: LocalServer) -> None:
    http_server.serve_feed("/feed.xml", RSS)
    [batch] = fetch(http_server, "/feed.xml")
    hostile = next(m for m in batch.mentions if m.external_id == "hostile-1")
    assert "{{ 7*7 }}" in hostile.title  # template syntax is kept as the literal text it is
    assert "<script>" not in hostile.title or "&lt;" not in hostile.title
    assert hostile.url == ""  # a javascript: link is dropped
    assert "onerror" not in hostile.text


def test_an_unchanged_feed_costs_one_304(http_server: LocalServer) -> None:
    http_server.serve_feed(
        "/feed.xml", RSS, etag='"v1"', last_modified="Mon, 06 Mar 2026 12:00:00 GMT"
    )
    [first] = fetch(http_server, "/feed.xml")
    assert first.state.etag == '"v1"'
    [second] = fetch(http_server, "/feed.xml", first.state)
    assert second.not_modified and not second.mentions
    sent = http_server.requests[-1].headers
    assert sent.get("If-None-Match") == '"v1"'
    assert sent.get("If-Modified-Since") == "Mon, 06 Mar 2026 12:00:00 GMT"


def test_a_server_error_is_a_source_error_that_will_be_retried(http_server: LocalServer) -> None:
    http_server.route("/feed.xml", status=500, body="oops")
    with pytest.raises(SourceError, match="HTTP 500; will retry"):
        fetch(http_server, "/feed.xml")


def test_429_tells_when_to_come_back(http_server: LocalServer) -> None:
    http_server.route("/feed.xml", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as error:
        fetch(http_server, "/feed.xml")
    assert "slow down" in str(error.value)


def test_a_timeout_is_reported_in_plain_words(http_server: LocalServer) -> None:
    http_server.route("/feed.xml", body=RSS, delay=1.5)
    with pytest.raises(SourceError, match="timed out"):
        fetch(http_server, "/feed.xml", timeout=timedelta(seconds=0.5))


def test_a_feed_that_never_finishes_is_cut_off(http_server: LocalServer) -> None:
    http_server.route("/feed.xml", body=RSS, trickle=0.05)
    with pytest.raises(SourceError, match="no complete answer within"):
        fetch(http_server, "/feed.xml", timeout=timedelta(seconds=0.6))


def test_a_feed_over_the_size_limit_is_refused(http_server: LocalServer) -> None:
    http_server.route("/feed.xml", body=RSS)
    with pytest.raises(SourceError, match="larger than the 1,000 byte limit"):
        fetch(http_server, "/feed.xml", max_bytes=1000)


def test_a_redirect_loop_is_named(http_server: LocalServer) -> None:
    http_server.route("/a", status=302, headers={"Location": "/b"})
    http_server.route("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(SourceError, match="redirects more than"):
        fetch(http_server, "/a")


def test_malformed_xml_with_recoverable_entries_keeps_them_and_says_so(
    http_server: LocalServer,
) -> None:
    broken = RSS.replace(b"</channel>\n</rss>", b"<item><title>O2 & broken")
    http_server.serve_feed("/feed.xml", broken)
    [batch] = fetch(http_server, "/feed.xml")
    assert len(batch.mentions) >= 5
    assert any("malformed" in note for note in batch.notes)


def test_garbage_is_not_a_feed(http_server: LocalServer) -> None:
    http_server.serve_feed(
        "/feed.xml", b"<rss><channel><title>x</ti", content_type="application/xml"
    )
    with pytest.raises(SourceError, match=r"not a readable feed|not an RSS/Atom feed"):
        fetch(http_server, "/feed.xml")


def test_an_html_page_is_not_a_feed(http_server: LocalServer) -> None:
    http_server.serve_feed(
        "/page", b"<!doctype html><html><body><p>Hello</p></body></html>", content_type="text/html"
    )
    with pytest.raises(SourceError, match="is a web page, not an RSS/Atom feed"):
        fetch(http_server, "/page")


def test_an_entry_without_a_date_uses_the_fetch_time(http_server: LocalServer) -> None:
    http_server.serve_feed("/feed.xml", RSS)
    [batch] = fetch(http_server, "/feed.xml")
    assert any("no readable date" in note for note in batch.notes)
    assert all(m.published_at is not None for m in batch.mentions)


def test_a_local_file_is_read_and_skipped_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    source = FeedSource("local", "feed.xml", base_dir=tmp_path)
    [first] = list(source.fetch(PollState()))
    assert len(first.mentions) == 5
    [second] = list(source.fetch(first.state))
    assert second.not_modified


def test_a_missing_local_file_says_so(tmp_path: Path) -> None:
    source = FeedSource("local", str(tmp_path / "gone.xml"))
    with pytest.raises(SourceError, match="does not exist"):
        list(source.fetch(PollState()))
