"""The X source: real tweepy against the local fake X API, through the production seam."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from listener.clock import ReplayClock
from listener.domain import Engagement, FetchBatch, PollState
from listener.errors import RateLimited, SettingsError, SourceDisabled, SourceError
from listener.settings import Settings, XSourceSettings, validate_settings
from listener.sources import build_source
from listener.sources.x import XSource, build_search_query, decode_cursor
from tests.support.fakes.local_http import Reply
from tests.support.fakes.x_api import BEARER_TOKEN, Failure, XApiServer
from tests.support.paths import FIXTURES

FIXTURES = FIXTURES / "x"

ENV = {"LISTENER_X_BEARER_TOKEN": BEARER_TOKEN}
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


def make_settings(api_url: str, **source: Any) -> Settings:
    return validate_settings(
        {
            "brands": [
                {"name": "acme", "terms": ["Acme", "Acme Cloud", "@acmehelp", "#acmedown"]},
                {"name": "globex", "terms": ["Globex"]},
            ],
            "sources": [
                {
                    "kind": "x",
                    "name": "x-acme",
                    "api_url": api_url,
                    "timeout": "2s",
                    "page_size": 10,
                    **source,
                }
            ],
        }
    )


@pytest.fixture
def open_source(x_api: XApiServer) -> Iterator[Any]:
    """Build X sources against the fake server; closes them after the test."""
    opened: list[XSource] = []

    def open_source(**source: Any) -> XSource:
        settings = make_settings(source.pop("api_url", x_api.url), **source)
        built = build_source(settings.sources[0], settings, ENV)
        assert isinstance(built, XSource)
        opened.append(built)
        return built

    yield open_source
    for source in opened:
        source.close()


def poll(source: XSource, cursor: str = "") -> list[FetchBatch]:
    return list(source.fetch(PollState(cursor=cursor)))


def ids(batches: list[FetchBatch]) -> list[str]:
    return [m.external_id for batch in batches for m in batch.mentions]


def since_ids(batch: FetchBatch) -> dict[str, str]:
    return decode_cursor(batch.state.cursor)


# -- polling ---------------------------------------------------------------------------------


def test_first_poll_turns_tweets_into_mentions_and_saves_newest_id(x_api, open_source):
    dana = x_api.add_user("dana_k", name="Dana K", followers=1200, verified=True)
    older = x_api.add_tweet("Acme Cloud is down again", author=dana, lang="en", likes=3)
    newer = x_api.add_tweet(
        "@acmehelp still waiting", author=dana, replies=1, retweets=2, likes=5, quotes=4
    )

    batches = poll(open_source())

    assert len(batches) == 1
    first, second = batches[0].mentions
    assert [first.external_id, second.external_id] == [newer.id, older.id]
    assert first.source == "x-acme"
    assert first.source_kind == "x"
    assert first.text == "@acmehelp still waiting"
    assert first.url == f"https://x.com/dana_k/status/{newer.id}"
    assert (first.author, first.author_name) == ("@dana_k", "Dana K")
    assert (first.author_followers, first.author_verified) == (1200, True)
    assert first.published_at == newer.created_at
    assert first.published_at.tzinfo == UTC
    assert first.lang == "en"
    assert first.engagement == Engagement(replies=1, reposts=2, likes=5, quotes=4)
    assert first.fetched_at is not None
    assert since_ids(batches[0]) == {"search": newer.id}


def test_a_full_search_page_as_x_writes_it_is_read_field_by_field(x_api, open_source):
    page = (FIXTURES / "search_recent_page.json").read_bytes()
    x_api.script(Reply(200, page), endpoint="search")

    (batch,) = poll(open_source())

    reply, news = batch.mentions
    assert reply.url == "https://x.com/priya_n/status/1897651003120390317"
    assert (reply.author, reply.author_name, reply.author_followers) == (
        "@priya_n",
        "Priya N.",
        312,
    )
    assert reply.author_verified is False
    assert reply.in_reply_to == "1897650212117426176"
    assert reply.published_at == datetime(2026, 3, 6, 9, 41, tzinfo=UTC)
    assert reply.engagement == Engagement(replies=1, reposts=0, likes=2, quotes=0)
    assert (news.lang, news.author_verified, news.author_followers) == ("es", True, None)
    assert news.engagement.total == 57 + 96 + 410 + 12
    assert since_ids(batch) == {"search": "1897651003120390317"}


def test_search_asks_for_authors_and_metrics_without_retweets(x_api, open_source):
    x_api.add_tweet("Acme", author=x_api.add_user("a"))

    poll(open_source(brands=["acme"]))

    (request,) = x_api.requests_to("search")
    assert request.headers["authorization"] == f"Bearer {BEARER_TOKEN}"
    assert request.params["query"] == '(Acme OR "Acme Cloud" OR @acmehelp OR #acmedown) -is:retweet'
    assert request.params["max_results"] == "10"
    assert request.params["expansions"] == "author_id"
    assert set(request.params["user.fields"].split(",")) == {
        "public_metrics",
        "verified",
        "username",
        "name",
    }
    assert set(request.params["tweet.fields"].split(",")) >= {
        "created_at",
        "public_metrics",
        "lang",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
    }
    assert "since_id" not in request.params


def test_incremental_poll_sends_since_id_and_gets_only_newer_tweets(x_api, open_source):
    author = x_api.add_user("b")
    seen = x_api.add_tweet("Acme one", author=author)
    source = open_source()
    cursor = poll(source)[-1].state.cursor
    fresh = x_api.add_tweet("Acme two", author=author)

    batches = poll(source, cursor)

    assert x_api.requests_to("search")[-1].params["since_id"] == seen.id
    assert ids(batches) == [fresh.id]
    assert since_ids(batches[-1]) == {"search": fresh.id}


def test_a_plain_tweet_id_cursor_from_older_versions_is_the_search_since_id(x_api, open_source):
    author = x_api.add_user("c")
    old = x_api.add_tweet("Acme old", author=author)
    new = x_api.add_tweet("Acme new", author=author)

    batches = poll(open_source(), cursor=old.id)

    assert x_api.requests_to("search")[0].params["since_id"] == old.id
    assert ids(batches) == [new.id]


def test_no_new_tweets_keeps_the_cursor(x_api, open_source):
    seen = x_api.add_tweet("Acme", author=x_api.add_user("d"))
    cursor = json.dumps({"search": seen.id})

    batches = poll(open_source(), cursor)

    assert ids(batches) == []
    assert since_ids(batches[-1]) == {"search": seen.id}


def test_pages_keep_the_old_cursor_until_the_last_one(x_api, open_source):
    author = x_api.add_user("e")
    start = x_api.add_tweet("Acme before", author=author)
    tweets = [x_api.add_tweet(f"Acme {n}", author=author) for n in range(25)]
    old_cursor = json.dumps({"search": start.id})

    batches = poll(open_source(page_size=10), old_cursor)

    assert [len(b.mentions) for b in batches] == [10, 10, 5]
    assert [since_ids(b) for b in batches] == [
        {"search": start.id},
        {"search": start.id},
        {"search": tweets[-1].id},
    ]
    assert ids(batches) == [t.id for t in reversed(tweets)]
    requests = x_api.requests_to("search")
    assert "next_token" not in requests[0].params
    assert requests[1].params["next_token"] and requests[2].params["next_token"]
    assert {r.params["since_id"] for r in requests} == {start.id}


def test_a_failure_mid_pagination_leaves_the_cursor_so_the_next_run_fetches_again(
    x_api,
    open_source,
):
    author = x_api.add_user("f")
    tweets = [x_api.add_tweet(f"Acme {n}", author=author) for n in range(15)]
    source = open_source(page_size=10)
    x_api.fail_next(Failure.server_error(), endpoint="search", after=1)
    committed: list[FetchBatch] = []

    with pytest.raises(SourceError, match="retried on the next run"):
        for batch in source.fetch(PollState()):
            committed.append(batch)  # what the pipeline stores before the error

    assert [len(b.mentions) for b in committed] == [10]
    assert since_ids(committed[0]) == {}
    again = poll(source, committed[-1].state.cursor)
    assert ids(again) == [t.id for t in reversed(tweets)]
    assert since_ids(again[-1]) == {"search": tweets[-1].id}


def test_stopping_at_max_pages_moves_the_cursor_and_says_posts_were_left(x_api, open_source):
    author = x_api.add_user("g")
    tweets = [x_api.add_tweet(f"Acme {n}", author=author) for n in range(30)]

    batches = poll(open_source(page_size=10, max_pages=2))

    assert [len(b.mentions) for b in batches] == [10, 10]
    assert since_ids(batches[-1]) == {"search": tweets[-1].id}
    assert "max_pages=2" in " ".join(batches[-1].notes)
    assert len(x_api.requests_to("search")) == 2


def test_mentions_of_the_brand_account_have_their_own_cursor(x_api, open_source):
    brand = x_api.add_user("acmehelp", id="4242")
    author = x_api.add_user("h")
    searched = x_api.add_tweet("Acme rocks", author=author)
    mentioned = x_api.add_tweet(
        "@acmehelp hello?", author=author, mentions=(brand.id,), searchable=False
    )
    source = open_source(user_id=brand.id)

    batches = poll(source)

    assert ids(batches) == [searched.id, mentioned.id]
    # the search stream's last batch already commits the search cursor
    assert since_ids(batches[0]) == {"search": searched.id}
    assert since_ids(batches[-1]) == {"search": searched.id, "mentions": mentioned.id}
    assert x_api.requests_to("mentions")[0].path == "/2/users/4242/mentions"

    later = x_api.add_tweet("@acmehelp again", author=author, mentions=(brand.id,))
    second = poll(source, batches[-1].state.cursor)

    assert x_api.requests_to("mentions")[-1].params["since_id"] == mentioned.id
    assert ids(second) == [later.id, later.id]  # both streams saw it; the store dedupes


def test_an_author_without_public_metrics_has_unknown_followers(x_api, open_source):
    quiet = x_api.add_user("quiet", followers=None)
    x_api.add_tweet("Acme?", author=quiet)

    (mention,) = poll(open_source())[0].mentions

    assert mention.author == "@quiet"
    assert mention.author_followers is None


def test_a_tweet_whose_author_is_not_included_still_has_a_working_link(x_api, open_source):
    tweet = x_api.add_tweet("Acme from a suspended account", author="999")

    (mention,) = poll(open_source())[0].mentions

    assert mention.url == f"https://x.com/i/web/status/{tweet.id}"
    assert (mention.author, mention.author_followers) == ("", None)


def test_a_reply_remembers_the_tweet_it_answers(x_api, open_source):
    author = x_api.add_user("i")
    parent = x_api.add_tweet("Acme status update", author=author)
    reply = x_api.add_tweet(
        "Acme still broken", author=author, in_reply_to_tweet_id=parent.id, searchable=True
    )

    mentions = {m.external_id: m for m in poll(open_source())[0].mentions}

    assert mentions[reply.id].in_reply_to == parent.id
    assert mentions[parent.id].in_reply_to == ""


def test_the_same_tweet_on_two_pages_is_delivered_twice(x_api, open_source):
    author = x_api.add_user("j")
    tweets = [x_api.add_tweet(f"Acme {n}", author=author) for n in range(12)]
    x_api.page_overlap = 1

    batches = poll(open_source(page_size=10))

    newest_first = [t.id for t in reversed(tweets)]
    assert ids(batches) == newest_first[:10] + newest_first[9:]
    assert since_ids(batches[-1]) == {"search": tweets[-1].id}


def test_a_since_id_too_old_for_x_restarts_the_search_and_notes_the_gap(x_api, open_source):
    author = x_api.add_user("l")
    tweets = [x_api.add_tweet(f"Acme {n}", author=author) for n in range(3)]
    x_api.fail_next(Failure.since_id_too_old("1"), endpoint="search")

    batches = poll(open_source(), json.dumps({"search": "1"}))

    assert ids(batches) == [t.id for t in reversed(tweets)]
    assert since_ids(batches[-1]) == {"search": tweets[-1].id}
    assert "no longer accepts since_id 1" in " ".join(batches[-1].notes)
    requests = x_api.requests_to("search")
    assert [r.params.get("since_id") for r in requests] == ["1", None]


def test_other_bad_requests_name_the_settings(x_api, open_source):
    x_api.fail_next(Failure.since_id_too_old("1"), endpoint="search")

    with pytest.raises(SourceError, match=r"400: Invalid 'since_id'.*check 'query'"):
        poll(open_source())  # no saved since_id: nothing to retry without


# -- errors ----------------------------------------------------------------------------------


def test_rate_limit_gives_the_reset_time_from_the_header(x_api, open_source):
    reset = int(datetime(2026, 3, 6, 12, 15, tzinfo=UTC).timestamp())
    x_api.fail_next(Failure.rate_limited(reset=reset), endpoint="search")

    with pytest.raises(RateLimited) as caught:
        poll(open_source())

    assert caught.value.retry_at == datetime(2026, 3, 6, 12, 15, tzinfo=UTC)
    assert "x source 'x-acme' is rate-limited" in str(caught.value)
    assert "2026-03-06 12:15 UTC" in str(caught.value)


def test_rate_limit_without_a_reset_header_waits_fifteen_minutes(x_api):
    settings = make_settings(x_api.url)
    config = settings.sources[0]
    assert isinstance(config, XSourceSettings)
    source = XSource(config, query="Acme", bearer_token=BEARER_TOKEN, clock=ReplayClock(NOW))
    x_api.fail_next(Failure.rate_limited(reset=None))

    try:
        with pytest.raises(RateLimited) as caught:
            poll(source)
    finally:
        source.close()

    assert caught.value.retry_at == NOW + timedelta(minutes=15)
    assert "no reset time" in str(caught.value)


def test_a_rejected_token_says_which_variable_to_check(x_api, open_source):
    x_api.bearer_token = "a-different-token"

    with pytest.raises(SourceError, match="check the bearer token in LISTENER_X_BEARER_TOKEN"):
        poll(open_source())


def test_forbidden_names_the_plan_and_quotes_x(x_api, open_source):
    x_api.fail_next(Failure.forbidden(), endpoint="search")

    with pytest.raises(SourceError) as caught:
        poll(open_source())

    message = str(caught.value)
    assert "403 Forbidden" in message
    assert "attached to a Project" in message
    assert "plan" in message
    assert not isinstance(caught.value, RateLimited)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure.server_error(500), "server error \\(500 Internal Server Error\\)"),
        (Failure.server_error(503), "server error \\(503 Service Unavailable\\)"),
        (Failure.malformed_json(), "not valid JSON"),
        (Failure.slow(3.0), "did not answer recent search within 0.3s"),
    ],
    ids=["500", "503", "malformed-json", "timeout"],
)
def test_passing_trouble_is_retried_on_the_next_run(x_api, open_source, failure, expected):
    x_api.fail_next(failure, endpoint="search")

    with pytest.raises(SourceError, match=expected) as caught:
        poll(open_source(timeout="300ms"))

    assert "it will be retried on the next run" in str(caught.value)
    assert not isinstance(caught.value, RateLimited)


def test_an_unreachable_server_is_retried_on_the_next_run(x_api, open_source):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    source = open_source(api_url=f"http://127.0.0.1:{closed_port}")

    with pytest.raises(SourceError, match=r"could not connect to http://127\.0\.0\.1:.*next run"):
        poll(source)


def test_the_next_poll_after_an_error_works(x_api, open_source):
    tweet = x_api.add_tweet("Acme", author=x_api.add_user("k"))
    x_api.fail_next(Failure.server_error())
    source = open_source()

    with pytest.raises(SourceError):
        poll(source)
    assert ids(poll(source)) == [tweet.id]


# -- building the source ---------------------------------------------------------------------


def test_without_a_token_the_source_is_disabled_with_one_clear_line(x_api):
    settings = make_settings(x_api.url)

    for environ in ({}, {"LISTENER_X_BEARER_TOKEN": "  "}):
        with pytest.raises(SourceDisabled) as caught:
            build_source(settings.sources[0], settings, environ)
        assert str(caught.value) == (
            "x source 'x-acme' is disabled: set LISTENER_X_BEARER_TOKEN to an X API bearer token"
        )


def test_the_token_variable_name_comes_from_settings(x_api):
    settings = make_settings(x_api.url, bearer_token_env="ACME_X_TOKEN")

    with pytest.raises(SourceDisabled, match="set ACME_X_TOKEN"):
        build_source(settings.sources[0], settings, ENV)
    source = build_source(settings.sources[0], settings, {"ACME_X_TOKEN": "t"})
    source.close()


def test_query_uses_only_the_brands_the_source_listens_for(x_api):
    settings = make_settings(x_api.url, brands=["globex"])
    source = build_source(settings.sources[0], settings, ENV)
    source.close()

    assert isinstance(source, XSource)
    assert source.query == "Globex -is:retweet"


def test_an_explicit_query_is_sent_as_written(x_api, open_source):
    poll(open_source(query='"acme" lang:en -is:reply'))

    assert x_api.requests_to("search")[0].params["query"] == '"acme" lang:en -is:reply'


@pytest.mark.parametrize(
    ("terms", "query"),
    [
        (["Acme"], "Acme -is:retweet"),
        (["Acme", "acme", "ACME "], "Acme -is:retweet"),
        (["Acme Cloud", "acme.com"], '("Acme Cloud" OR "acme.com") -is:retweet'),
        (["@AcmeHelp", "#AcmeDown", "$ACME"], "(@AcmeHelp OR #AcmeDown OR $ACME) -is:retweet"),
        (['say "acme"', "acme-cloud"], '("say acme" OR "acme-cloud") -is:retweet'),
        (["OR", "Ünïcode"], '("OR" OR Ünïcode) -is:retweet'),
    ],
)
def test_search_query_from_brand_terms(terms, query):
    assert build_search_query(terms) == query


def test_a_query_longer_than_x_allows_is_a_settings_error(x_api):
    long_terms = [f"brand phrase number {n}" for n in range(30)]
    settings = validate_settings(
        {
            "brands": [{"name": "big", "terms": long_terms}],
            "sources": [{"kind": "x", "name": "x-big", "api_url": x_api.url}],
        }
    )

    with pytest.raises(
        SettingsError, match=r"sources.x-big: .* over X's limit of 512; set 'query'"
    ):
        build_source(settings.sources[0], settings, ENV)

    explicit = make_settings(x_api.url, query="a " * 300)
    with pytest.raises(SettingsError, match=r"sources.x-acme.query: 599 characters"):
        build_source(explicit.sources[0], explicit, ENV)
