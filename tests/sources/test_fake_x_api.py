"""The fake X API answers tweepy the way X does, so other tests can trust it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import tweepy

from listener.sources.x_transport import attach_api_url
from tests.support.fakes.x_api import (
    BEARER_TOKEN,
    DUPLICATE_CONTENT,
    Failure,
    XApiServer,
    format_created_at,
)
from tests.support.shared_data import shared_path


@pytest.fixture
def app_client(x_api: XApiServer) -> Iterator[tweepy.Client]:
    client = tweepy.Client(bearer_token=BEARER_TOKEN)
    attach_api_url(client.session, x_api.url, 2)
    yield client
    client.session.close()


@pytest.fixture
def user_client(x_api: XApiServer) -> Iterator[tweepy.Client]:
    """Signs with OAuth 1.0a user context, as the reply publisher does."""
    client = tweepy.Client(
        consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats"
    )
    attach_api_url(client.session, x_api.url, 2)
    yield client
    client.session.close()


def test_posting_a_reply_records_it_and_returns_its_id(x_api, user_client):
    parent = x_api.add_tweet("@acme my order is late", author=x_api.add_user("dana"))

    response = user_client.create_tweet(text="Sorry Dana, DM us", in_reply_to_tweet_id=parent.id)

    (post,) = x_api.posts
    assert response.data == {"edit_history_tweet_ids": [post.id], "id": post.id, "text": post.text}
    assert (post.in_reply_to_tweet_id, post.author_id) == (parent.id, x_api.account.id)
    request = x_api.requests_to("post")[0]
    assert request.headers["authorization"].startswith("OAuth ")
    assert request.body == {
        "text": "Sorry Dana, DM us",
        "reply": {"in_reply_to_tweet_id": parent.id},
    }


def test_posting_the_same_text_twice_is_refused_like_on_x(x_api, user_client):
    user_client.create_tweet(text="We are on it")

    with pytest.raises(tweepy.Forbidden) as caught:
        user_client.create_tweet(text="We are on it")

    assert caught.value.api_messages == [DUPLICATE_CONTENT]
    assert caught.value.api_codes == []
    assert len(x_api.posts) == 1


def test_posting_with_an_app_only_token_is_refused(x_api):
    response = requests.post(
        f"{x_api.url}/2/tweets",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        timeout=2,
    )

    assert response.status_code == 403
    assert response.json()["title"] == "Unsupported Authentication"
    assert x_api.posts == []


def test_posting_can_be_scripted_to_fail(x_api, user_client):
    x_api.fail_next(Failure.server_error(503), endpoint="post")

    with pytest.raises(tweepy.TwitterServerError):
        user_client.create_tweet(text="first try")
    user_client.create_tweet(text="first try")

    assert [p.text for p in x_api.posts] == ["first try"]


def test_users_are_served_with_the_fields_asked_for(x_api, app_client):
    dana = x_api.add_user("dana", followers=77, verified=True)

    user = app_client.get_user(id=dana.id, user_fields=["public_metrics", "verified"]).data
    missing = app_client.get_user(id="1", user_fields=["public_metrics"])

    assert (user.username, user.verified, user.public_metrics["followers_count"]) == (
        "dana",
        True,
        77,
    )
    assert missing.data is None
    assert missing.errors[0]["title"] == "Not Found Error"


def test_search_validates_max_results_like_x(x_api, app_client):
    with pytest.raises(tweepy.BadRequest, match="not between 10 and 100"):
        app_client.search_recent_tweets("acme", max_results=5)


def test_failures_can_target_one_endpoint_and_skip_requests(x_api, app_client):
    x_api.fail_next(Failure.unauthorized(), endpoint="mentions", after=1)

    app_client.search_recent_tweets("acme")
    app_client.get_users_mentions(x_api.account.id)
    with pytest.raises(tweepy.Unauthorized):
        app_client.get_users_mentions(x_api.account.id)

    assert [r.endpoint for r in x_api.requests] == ["search", "mentions", "mentions"]


def test_every_answer_carries_rate_limit_headers(x_api):
    response = requests.get(
        f"{x_api.url}/2/tweets/search/recent",
        params={"query": "acme"},
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        timeout=2,
    )

    assert response.headers["x-rate-limit-limit"] == "450"
    assert response.headers["x-rate-limit-remaining"] == "449"
    assert int(response.headers["x-rate-limit-reset"]) > 0


def test_created_at_is_written_the_way_x_writes_it(x_api):
    tweet = x_api.add_tweet("acme", author=x_api.add_user("e"))

    assert format_created_at(tweet.created_at) == "2026-03-06T09:41:00.000Z"


@pytest.mark.shared
@pytest.mark.parametrize(
    ("recording", "endpoint"),
    [
        ("test_client_search_recent_tweets.0.json", "/2/tweets/search/recent?query=acme"),
        ("test_client_get_users_mentions.0.json", "/2/users/{user}/mentions"),
    ],
)
def test_timelines_have_the_shape_of_real_recordings(x_api, recording, endpoint):
    real = json.loads(shared_path("data", "x_api_v2", "decoded_bodies", recording).read_text())
    author = x_api.add_user("f")
    for n in range(12):
        x_api.add_tweet(f"acme {n}", author=author, mentions=(x_api.account.id,))

    fake = requests.get(
        x_api.url + endpoint.format(user=x_api.account.id),
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        timeout=2,
    ).json()

    assert fake.keys() == real.keys()
    assert fake["meta"].keys() == real["meta"].keys()
    assert fake["data"][0].keys() == real["data"][0].keys()
    assert len(fake["data"]) == len(real["data"]) == 10
