"""The Bluesky source: real httpx against a local AppView serving real-shaped postViews."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from listener.clock import ReplayClock
from listener.domain import Engagement, FetchBatch, PollState
from listener.errors import RateLimited, SourceError
from listener.settings import BlueskySourceSettings, validate_settings
from listener.sources import build_source
from listener.sources.bluesky import MAX_PAGES, BlueskySource, build_search_queries
from tests.support.fakes.bluesky_api import BlueskyApiServer, BlueskyFailure

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


def make_config(api_url: str, **source: Any) -> tuple[Any, Any]:
    settings = validate_settings(
        {
            "brands": [
                {"name": "acme", "terms": ["Acme Fiber", "@acmefiber", "acme"]},
                {"name": "globex", "terms": ["Globex"]},
            ],
            "sources": [
                {"kind": "bluesky", "name": "bsky", "api_url": api_url, "timeout": "2s", **source}
            ],
        }
    )
    return settings.sources[0], settings


@pytest.fixture
def open_source(bluesky_api: BlueskyApiServer) -> Iterator[Any]:
    opened: list[BlueskySource] = []

    def open_source(**source: Any) -> BlueskySource:
        config, settings = make_config(source.pop("api_url", bluesky_api.url), **source)
        built = build_source(config, settings, {})
        assert isinstance(built, BlueskySource)
        opened.append(built)
        return built

    yield open_source
    for source in opened:
        source.close()


def poll(source: BlueskySource, cursor: str = "") -> list[FetchBatch]:
    return list(source.fetch(PollState(cursor=cursor)))


def uris(batches: list[FetchBatch]) -> list[str]:
    return [m.external_id for batch in batches for m in batch.mentions]


def test_search_results_become_mentions(bluesky_api, open_source):
    complaint, reply, official = bluesky_api.load_fixture("search_posts.json")

    (batch,) = poll(open_source(query='"acme fiber"'))

    first = batch.mentions[0]
    assert [m.external_id for m in batch.mentions] == [
        complaint["uri"],
        reply["uri"],
        official["uri"],
    ]
    assert first.source == "bsky"
    assert first.source_kind == "bluesky"
    assert first.text.startswith("Third day without internet and Acme Fiber")
    assert first.url == "https://bsky.app/profile/marisol.bsky.social/post/3mkq7d2zq4c2x"
    assert (first.author, first.author_name) == ("@marisol.bsky.social", "Marisol Ortega")
    assert first.author_followers is None  # search results carry no follower counts
    assert first.author_verified is None
    assert first.published_at == datetime(2026, 3, 6, 9, 47, 12, 402000, tzinfo=UTC)
    assert first.lang == "en"
    assert first.engagement == Engagement(replies=2, reposts=5, likes=31, quotes=1)
    assert first.fetched_at is not None


def test_odd_posts_still_make_sense(bluesky_api, open_source):
    _, reply, official = bluesky_api.load_fixture("search_posts.json")

    mentions = {m.external_id: m for m in poll(open_source(query="acme"))[0].mentions}

    invalid_handle = mentions[reply["uri"]]
    assert invalid_handle.url == (
        "https://bsky.app/profile/did:plc:6fktaamhhxdqb2ypum33kbkj/post/3mkq6yl5vbs2k"
    )
    assert invalid_handle.published_at == datetime(2026, 3, 6, 9, 45, 58, 716891, tzinfo=UTC)
    assert invalid_handle.lang == "de"
    assert invalid_handle.in_reply_to == reply["record"]["reply"]["parent"]["uri"]
    assert mentions[official["uri"]].author_verified is True


def test_each_brand_term_is_its_own_search(bluesky_api, open_source):
    poll(open_source(brands=["acme"]))

    requests = bluesky_api.requests_to("search")
    assert [r.params["q"] for r in requests] == ['"Acme Fiber"', "acmefiber", "acme"]
    assert {(r.params["sort"], r.params["limit"]) for r in requests} == {("latest", "100")}


@pytest.mark.parametrize(
    ("terms", "queries"),
    [
        (["Acme", "ACME", " acme "], ["Acme"]),
        (["Acme Fiber", "@acmefiber", "#acmedown"], ['"Acme Fiber"', "acmefiber", "#acmedown"]),
        (['say "acme"'], ['"say acme"']),
    ],
)
def test_search_queries_from_brand_terms(terms, queries):
    assert build_search_queries(terms) == queries


def test_the_next_poll_starts_a_little_before_the_newest_post(bluesky_api, open_source):
    bluesky_api.load_fixture("search_posts.json")
    source = open_source(query="acme")
    cursor = poll(source)[-1].state.cursor
    newest = datetime(2026, 3, 6, 9, 47, 12, 402000, tzinfo=UTC)

    assert json.loads(cursor) == {"acme": "2026-03-06T09:42:12.402Z"}
    fresh = bluesky_api.add_post("acme router blinking red", created_at=newest + timedelta(hours=1))
    second = poll(source, cursor)

    assert bluesky_api.requests_to("search")[-1].params["since"] == "2026-03-06T09:42:12.402Z"
    assert uris(second)[0] == fresh["uri"]
    assert len(uris(second)) == 3  # the last five minutes again: the store drops repeats
    assert json.loads(second[-1].state.cursor) == {"acme": "2026-03-06T10:42:12.402Z"}


def test_pages_keep_the_old_cursor_until_the_last_one(bluesky_api, open_source):
    posts = [bluesky_api.add_post(f"acme outage {n}") for n in range(230)]

    batches = poll(open_source(query="acme"))

    assert [len(b.mentions) for b in batches] == [100, 100, 30]
    assert [b.state.cursor for b in batches[:2]] == ["{}", "{}"]
    assert json.loads(batches[-1].state.cursor) == {"acme": "2026-03-06T13:45:00.000Z"}
    assert uris(batches) == [p["uri"] for p in reversed(posts)]
    assert [r.params.get("cursor") for r in bluesky_api.requests_to("search")] == [
        None,
        "100",
        "200",
    ]


def test_stopping_at_the_page_limit_is_noted(bluesky_api, open_source):
    for n in range(MAX_PAGES * 100 + 1):
        bluesky_api.add_post(f"acme {n}")

    batches = poll(open_source(query="acme"))

    assert len(batches) == MAX_PAGES
    assert "stopped after" in " ".join(batches[-1].notes)
    assert json.loads(batches[-1].state.cursor)["acme"]


def test_several_searches_commit_their_cursors_one_after_another(bluesky_api, open_source):
    bluesky_api.add_post("Globex billing is broken")
    bluesky_api.add_post("acme is fine")

    batches = poll(open_source())

    # searches without hits have nothing to remember yet
    assert [set(json.loads(b.state.cursor)) for b in batches] == [
        set(),
        set(),
        {"acme"},
        {"acme", "Globex"},
    ]


def test_rate_limit_uses_the_ratelimit_reset_header(bluesky_api, open_source):
    reset = int(datetime(2026, 3, 6, 12, 5, tzinfo=UTC).timestamp())
    bluesky_api.fail_next(BlueskyFailure.rate_limited(reset=reset))

    with pytest.raises(RateLimited) as caught:
        poll(open_source(query="acme"))

    assert caught.value.retry_at == datetime(2026, 3, 6, 12, 5, tzinfo=UTC)
    assert "bluesky source 'bsky' is rate-limited" in str(caught.value)
    assert "2026-03-06 12:05 UTC" in str(caught.value)


def test_rate_limit_without_a_reset_header_waits_five_minutes(bluesky_api):
    config, _ = make_config(bluesky_api.url)
    assert isinstance(config, BlueskySourceSettings)
    source = BlueskySource(config, queries=["acme"], clock=ReplayClock(NOW))
    bluesky_api.fail_next(BlueskyFailure.rate_limited(reset=None))

    try:
        with pytest.raises(RateLimited) as caught:
            poll(source)
    finally:
        source.close()

    assert caught.value.retry_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (BlueskyFailure.error(500, "InternalServerError", "Internal Server Error"), "server error"),
        (
            BlueskyFailure.error(502, "UpstreamFailure", "Upstream Failure"),
            "server error \\(502\\)",
        ),
        (BlueskyFailure.malformed_json(), "not valid JSON"),
        (BlueskyFailure.slow(3.0), "did not answer within 0.3s"),
        (BlueskyFailure.json(200, {"feed": []}), "no 'posts' list"),
    ],
    ids=["500", "502", "malformed-json", "timeout", "wrong-shape"],
)
def test_passing_trouble_is_retried_on_the_next_run(bluesky_api, open_source, failure, expected):
    bluesky_api.fail_next(failure)

    with pytest.raises(SourceError, match=expected) as caught:
        poll(open_source(query="acme", timeout="300ms"))

    assert "retried on the next run" in str(caught.value)
    assert not isinstance(caught.value, RateLimited)


def test_a_failure_on_the_second_page_keeps_the_cursor(bluesky_api, open_source):
    for n in range(150):
        bluesky_api.add_post(f"acme {n}")
    bluesky_api.fail_next(BlueskyFailure.error(503, "NotEnoughResources", "busy"), after=1)
    committed: list[FetchBatch] = []

    with pytest.raises(SourceError):
        for batch in open_source(query="acme").fetch(PollState()):
            committed.append(batch)

    assert [(len(b.mentions), b.state.cursor) for b in committed] == [(100, "{}")]


def test_refused_anonymous_search_says_what_to_do(bluesky_api, open_source):
    bluesky_api.fail_next(BlueskyFailure.error(403, "Forbidden", "Forbidden"))

    with pytest.raises(SourceError, match=r"refused anonymous search .*point api_url"):
        poll(open_source(query="acme"))


def test_a_rejected_query_points_at_the_settings(bluesky_api, open_source):
    bluesky_api.fail_next(BlueskyFailure.error(400, "InvalidRequest", "bad query syntax"))

    with pytest.raises(SourceError, match=r"bad query syntax.*check 'query'"):
        poll(open_source(query="acme"))


def test_a_post_time_out_of_range_in_utc_fails_no_poll(bluesky_api, open_source):
    # Valid ISO 8601, but the year 0 once in UTC: reading it used to raise OverflowError and
    # fail the poll, every poll, since the post stays in the search results.
    odd = bluesky_api.add_post("acme ate my homework")
    odd["record"]["createdAt"] = "0001-01-01T00:00:00+05:00"
    bluesky_api.add_post("acme is down again")

    mentions = [m for batch in poll(open_source(query="acme")) for m in batch.mentions]

    assert sorted(m.text for m in mentions) == ["acme ate my homework", "acme is down again"]
    [odd_one] = [m for m in mentions if m.external_id == odd["uri"]]
    indexed = datetime.fromisoformat(odd["indexedAt"].replace("Z", "+00:00"))
    assert odd_one.published_at == indexed  # when it was indexed stands in for it
