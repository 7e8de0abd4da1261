"""Hostile and broken feeds, end to end: the real feed source against a local server, through
the pipeline into the store. Nothing crashes; what can be recovered is stored once, as inert
plain text; what cannot is that source's error, in words an operator can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from listener.app import Listener, make_listener
from listener.pipeline import PollReport
from listener.settings import Settings
from listener.store import DraftFilter
from tests.support.http_server import LocalServer, Reply
from tests.support.paths import FIXTURES

HOSTILE = FIXTURES / "hostile"
RSS_TYPE = "application/rss+xml; charset=utf-8"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.fixture
def listen(
    make_settings: Callable[..., Settings], http_server: LocalServer
) -> Iterator[Callable[..., Listener]]:
    opened: list[Listener] = []

    def build(path: str, **source: Any) -> Listener:
        settings = make_settings(
            sources=[{"name": "hostile", "url": http_server.url(path), "timeout": "2s", **source}]
        )
        listener = make_listener(settings)
        opened.append(listener)
        return listener

    yield build
    for listener in opened:
        listener.close()


def poll(listener: Listener) -> PollReport:
    [report] = listener.poll("hostile")
    return report


def stored(listener: Listener) -> dict[str, Any]:
    return {m.mention.external_id: m for m in listener.store.mentions(limit=1000)}


def serve(server: LocalServer, path: str, name: str, content_type: str = RSS_TYPE) -> None:
    server.serve_feed(path, (HOSTILE / name).read_bytes(), content_type=content_type)


def test_truncated_xml_keeps_the_complete_entries_and_says_it_was_broken(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/cut.xml", "truncated.xml")
    listener = listen("/cut.xml")
    report = poll(listener)
    assert report.ok and any("malformed" in note for note in report.notes)
    assert {"cut-1", "cut-2"} <= set(stored(listener))
    again = poll(listener)
    assert again.ok and again.new == 0  # the same bytes again store nothing twice


def test_malformed_xml_with_bare_ampersands_and_unclosed_tags_is_recovered(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/bad.xml", "malformed.xml")
    listener = listen("/bad.xml")
    report = poll(listener)
    assert report.ok, report.error
    mentions = stored(listener)
    assert mentions, report.notes
    for mention in mentions.values():
        assert "<" not in mention.mention.title and "<" not in mention.mention.text


def test_xml_that_is_not_a_feed_at_all_is_the_sources_error_not_a_crash(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    http_server.route(
        "/junk.xml",
        body=b"<rss><channel><title>nothing but a cut-off head",
        headers={"Content-Type": RSS_TYPE},
    )
    http_server.route("/binary.xml", body=bytes(range(256)) * 8, headers={"Content-Type": RSS_TYPE})
    for path in ("/junk.xml", "/binary.xml"):
        listener = listen(path)
        report = poll(listener)
        assert not report.ok
        assert "not a readable feed" in report.error or "not an RSS" in report.error
        assert listener.store.sources.statuses(listener.clock.now())[0].last_error == report.error


def test_a_cp1252_body_that_claims_to_be_utf8_is_still_read(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/cp1252.xml", "cp1252_declared_utf8.xml")
    listener = listen("/cp1252.xml")
    report = poll(listener)
    assert report.ok, report.error
    [mention] = stored(listener).values()
    assert "caf" in mention.mention.title and "O2" in mention.mention.title
    assert "\x00" not in mention.mention.title


def test_a_utf16_feed_is_decoded(listen: Callable[..., Listener], http_server: LocalServer) -> None:
    serve(http_server, "/utf16.xml", "utf16.xml", content_type="application/rss+xml")
    listener = listen("/utf16.xml")
    report = poll(listener)
    assert report.ok, report.error
    [mention] = stored(listener).values()
    assert "café" in mention.mention.title and "£" in mention.mention.title


def test_a_header_charset_that_contradicts_the_body_does_not_crash(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(
        http_server,
        "/wrong.xml",
        "markup_everywhere.xml",
        content_type="text/xml; charset=iso-2022-jp",
    )
    listener = listen("/wrong.xml")
    report = poll(listener)
    assert report.ok or "not a readable feed" in report.error


def test_a_50_megabyte_feed_is_refused_by_the_size_limit(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    head = b"<?xml version='1.0'?><rss version='2.0'><channel><title>huge</title>"
    item = b"<item><title>O2 is great</title><description>" + b"x" * 4000 + b"</description></item>"
    body = head + item * (50_000_000 // len(item))  # generated here, never stored
    http_server.route("/huge.xml", body=body, headers={"Content-Type": RSS_TYPE})
    listener = listen("/huge.xml")
    report = poll(listener)
    assert not report.ok
    assert "larger than the 10,000,000 byte limit" in report.error
    assert stored(listener) == {}


def test_a_feed_over_a_smaller_configured_limit_is_refused_while_streaming(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/feed.xml", "markup_everywhere.xml")
    listener = listen("/feed.xml", max_bytes=500)
    report = poll(listener)
    assert "larger than the 500 byte limit" in report.error


def test_a_feed_that_never_finishes_sending_is_cut_off_at_the_deadline(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    body = (HOSTILE / "truncated.xml").read_bytes()
    http_server.route("/drip.xml", body=body, headers={"Content-Type": RSS_TYPE}, trickle=0.05)
    listener = listen("/drip.xml", timeout="1s")
    report = poll(listener)
    assert not report.ok
    assert "did not finish sending within 1s" in report.error or "timed out" in report.error
    assert stored(listener) == {}


def test_redirects_in_a_loop_are_named_as_such(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    http_server.route("/a.xml", status=302, headers={"Location": "/b.xml"})
    http_server.route("/b.xml", status=301, headers={"Location": "/a.xml"})
    listener = listen("/a.xml")
    report = poll(listener)
    assert "redirects more than" in report.error and "loop" in report.error


def test_html_script_and_template_syntax_in_every_field_is_stored_as_inert_text(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/markup.xml", "markup_everywhere.xml")
    listener = listen("/markup.xml")
    report = poll(listener)
    assert report.ok, report.error
    mentions = stored(listener)
    assert set(mentions) == {"markup-1", "markup-2"}
    for item in mentions.values():
        m = item.mention
        for field in (m.title, m.text, m.author, m.author_name):
            assert "<script" not in field.lower() and "<iframe" not in field.lower()
            assert "onerror=" not in field and "onclick" not in field and "onload" not in field
        assert m.url == ""  # javascript: and data: links are dropped, not stored
    first = mentions["markup-1"].mention
    assert "{{ 7*7 }}" in first.title and "${7*7}" in first.title  # literal, never evaluated
    assert "49" not in first.title
    assert "{{ config }}" in first.author and "Mallory" in first.author
    assert "display:none" not in first.text  # style contents are not text
    for draft in listener.store.drafts(DraftFilter(status="all"), limit=100):
        assert "<script" not in draft.text and "49" not in draft.text


def test_control_characters_are_removed_and_emoji_kept(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    serve(http_server, "/odd.xml", "control_and_emoji.xml")
    listener = listen("/odd.xml")
    report = poll(listener)
    assert report.ok, report.error
    mentions = stored(listener)
    assert mentions, report.notes
    for item in mentions.values():
        for field in (item.mention.title, item.mention.text):
            assert not CONTROL.search(field), repr(field)
    joined = " ".join(i.mention.title + " " + i.mention.text for i in mentions.values())
    assert "😡" in joined or "🛫" in joined


def test_every_reply_kind_of_failure_leaves_the_other_sources_polling(
    make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    serve(http_server, "/good.xml", "truncated.xml")
    http_server.route("/boom.xml", status=500)
    http_server.handle("/hang.xml", lambda request: Reply(200, b"", {}, delay=5))
    settings = make_settings(
        sources=[
            {"name": "good", "url": http_server.url("/good.xml")},
            {"name": "boom", "url": http_server.url("/boom.xml")},
            {"name": "hang", "url": http_server.url("/hang.xml"), "timeout": "1s"},
        ]
    )
    listener = make_listener(settings)
    try:
        reports = {r.source: r for r in listener.poll()}
    finally:
        listener.close()
    assert reports["good"].ok and reports["good"].new >= 2
    assert "HTTP 500" in reports["boom"].error
    assert "timed out" in reports["hang"].error


def test_an_entry_whose_link_no_parser_reads_costs_the_feed_nothing(
    listen: Callable[..., Listener], http_server: LocalServer
) -> None:
    # urljoin/urlparse raise on a malformed IPv6 literal; that used to fail the whole feed.
    items = "".join(
        f"<item><guid>{guid}</guid><title>O2 outage {guid}</title><link>{link}</link></item>"
        for guid, link in [
            ("a", "http://[::1"),
            ("b", "https://[not-an-address]/post"),
            ("c", "https://blog.example/fine"),
        ]
    )
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    http_server.serve_feed("/links.xml", rss.encode(), content_type=RSS_TYPE)
    listener = listen("/links.xml")
    report = poll(listener)
    assert report.ok, report.error
    mentions = stored(listener)
    assert set(mentions) == {"a", "b", "c"}
    assert mentions["a"].mention.url == mentions["b"].mention.url == ""
    assert mentions["c"].mention.url == "https://blog.example/fine"
