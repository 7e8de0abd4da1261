"""A local, scriptable X API v2 server for tests and benchmarks: real HTTP on 127.0.0.1.

It answers the few endpoints listener uses, with bodies shaped like the ones X really sends
(see ../shared/data/x_api_v2/decoded_bodies/): recent search, a user's mentions, a user, and
posting a tweet. Point tweepy at it with `attach_api_url(client.session, server.url, timeout)`:
the same seam production uses, so nothing is patched.

    with XApiServer() as x:
        author = x.add_user("dana", followers=1200)
        x.add_tweet("@acme my parcel is lost", author=author)
        x.fail_next(Failure.rate_limited(reset=1_800_000_000), endpoint="search")
        ...
        assert x.requests_to("search")[0].params["since_id"] == "..."

Script it with `add_user`, `add_tweet`, `fail_next` and `page_overlap`; read back `requests`
(every request, in order) and `posts` (tweets created through POST /2/tweets). The server does
not interpret X's query language: recent search returns every searchable tweet, newest first,
honouring `since_id`, `until_id`, `max_results` and `next_token`; assert on the query it was
sent instead. `x_api` is a pytest fixture yielding a started server.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.fakes.local_http import LocalHttpServer, RecordedRequest, Reply

__all__ = [
    "DUPLICATE_CONTENT",
    "Failure",
    "RecordedRequest",
    "XApiServer",
    "XTweet",
    "XUser",
    "format_created_at",
    "x_api",
]

DUPLICATE_CONTENT = "You are not allowed to create a Tweet with duplicate content."
BEARER_TOKEN = "test-bearer-token"
# When nothing else is said, tweets are a minute apart from this moment.
BASE_TIME = datetime(2026, 3, 6, 9, 41, tzinfo=UTC)
_FIRST_TWEET_ID = 1_897_000_000_000_000_000
_FIRST_USER_ID = 1_072_250_532_645_998_596

ENDPOINTS = {
    "search": ("GET", re.compile(r"^/2/tweets/search/recent$")),
    "mentions": ("GET", re.compile(r"^/2/users/(?P<id>\d+)/mentions$")),
    "user": ("GET", re.compile(r"^/2/users/(?P<id>\d+)$")),
    "post": ("POST", re.compile(r"^/2/tweets$")),
}
# Requests allowed per 15-minute window, as sent in x-rate-limit-limit (app-only, Basic plan).
_WINDOW_LIMITS = {"search": 450, "mentions": 450, "user": 300, "post": 200}


def format_created_at(moment: datetime) -> str:
    """The way X writes times: '2026-03-06T09:41:00.000Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class XUser:
    """An account. `followers=None` serves it without `public_metrics` (as X may)."""

    id: str
    username: str
    name: str
    followers: int | None = 100
    verified: bool = False

    def as_json(self, fields: set[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "name": self.name, "username": self.username}
        if "verified" in fields:
            body["verified"] = self.verified
        if "public_metrics" in fields and self.followers is not None:
            body["public_metrics"] = {
                "followers_count": self.followers,
                "following_count": 12,
                "tweet_count": 345,
                "listed_count": 1,
                "like_count": 67,
            }
        return body


@dataclass
class XTweet:
    """A post. `mentions` are the user ids whose mentions timeline shows it."""

    id: str
    text: str
    author_id: str
    created_at: datetime
    lang: str = "en"
    replies: int = 0
    retweets: int = 0
    likes: int = 0
    quotes: int = 0
    mentions: tuple[str, ...] = ()
    in_reply_to_tweet_id: str = ""
    in_reply_to_user_id: str = ""
    conversation_id: str = ""
    searchable: bool = True

    def as_json(self, fields: set[str], expansions: set[str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "edit_history_tweet_ids": [self.id],
            "id": self.id,
            "text": self.text,
        }
        if "author_id" in fields or "author_id" in expansions:
            body["author_id"] = self.author_id
        if "created_at" in fields:
            body["created_at"] = format_created_at(self.created_at)
        if "lang" in fields:
            body["lang"] = self.lang
        if "conversation_id" in fields:
            body["conversation_id"] = self.conversation_id or self.id
        if "in_reply_to_user_id" in fields and self.in_reply_to_user_id:
            body["in_reply_to_user_id"] = self.in_reply_to_user_id
        if "referenced_tweets" in fields and self.in_reply_to_tweet_id:
            body["referenced_tweets"] = [{"type": "replied_to", "id": self.in_reply_to_tweet_id}]
        if "public_metrics" in fields:
            body["public_metrics"] = {
                "retweet_count": self.retweets,
                "reply_count": self.replies,
                "like_count": self.likes,
                "quote_count": self.quotes,
                "bookmark_count": 0,
                "impression_count": 10 * (self.likes + self.retweets + 1),
            }
        return body


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


class Failure(Reply):
    """Scripted bad answers shaped like X's own (pass them to `XApiServer.fail_next`)."""

    @classmethod
    def rate_limited(cls, reset: int | None = None) -> Failure:
        """429; `reset` (epoch seconds) goes in x-rate-limit-reset, None leaves it out."""
        headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0"}
        if reset is not None:
            headers["x-rate-limit-reset"] = str(reset)
        return cls.json(429, _problem(429, "Too Many Requests", "Too Many Requests"), headers)

    @classmethod
    def unauthorized(cls) -> Failure:
        return cls.json(401, _problem(401, "Unauthorized", "Unauthorized"))

    @classmethod
    def forbidden(cls, detail: str | None = None) -> Failure:
        """403 as X sends it to an app whose plan lacks the endpoint (or with `detail`)."""
        if detail is not None:
            return cls.json(403, _problem(403, "Forbidden", detail))
        return cls.json(
            403,
            {
                "client_id": "28000000",
                "detail": (
                    "When authenticating requests to the Twitter API v2 endpoints, you must "
                    "use keys and tokens from a Twitter developer App that is attached to a "
                    "Project. You can create a project via the developer portal."
                ),
                "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                "title": "Client Forbidden",
                "required_enrollment": "Appropriate Level of API Access",
                "reason": "client-not-enrolled",
                "type": "https://api.twitter.com/2/problems/client-forbidden",
            },
        )

    @classmethod
    def since_id_too_old(cls, since_id: str) -> Failure:
        """400 as recent search answers a since_id from before its 7-day window."""
        message = (
            f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after "
            "2026-02-27T12:00:00.000Z. Please use a 'since_id' that is larger than "
            "1894000000000000000"
        )
        return cls.json(400, _invalid("since_id", since_id, message))

    @classmethod
    def server_error(cls, status: int = 500) -> Failure:
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(status, "Server Error")
        return cls.json(status, _problem(status, title, title))

    @classmethod
    def slow(cls, seconds: float) -> Failure:
        """A normal-looking empty answer that only starts after `seconds`."""
        return cls.json(200, {"meta": {"result_count": 0}}, delay=seconds)

    @classmethod
    def malformed_json(cls) -> Failure:
        """200 with a body cut off halfway, as a broken proxy might deliver it."""
        return cls(200, b'{"data":[{"edit_history_tweet_ids":["1"],"id":"1","te')


class XApiServer(LocalHttpServer):
    """The fake X API. Thread-safe; start with `start()` or `with`, stop with `close()`;
    `url` is the base URL to use as `api_url`, e.g. 'http://127.0.0.1:40123'."""

    endpoints = ENDPOINTS

    def __init__(self, *, bearer_token: str = BEARER_TOKEN) -> None:
        super().__init__()
        self.bearer_token = bearer_token
        self.users: dict[str, XUser] = {}
        self.tweets: dict[str, XTweet] = {}
        self.posts: list[XTweet] = []
        # Each next page repeats this many posts from the end of the previous one (keep it
        # below the page size), as X occasionally does: the client must cope with repeats.
        self.page_overlap = 0
        self._tokens: dict[str, str] = {}
        self._tweet_ids = itertools.count(_FIRST_TWEET_ID, 1_000_003)
        self._user_ids = itertools.count(_FIRST_USER_ID, 7)
        self._token_numbers = itertools.count(1)
        self._window_used: dict[str, int] = {}
        #: The account POST /2/tweets posts as.
        self.account = self.add_user("listener_brand", name="Brand Support", followers=5000)

    # -- scripting ---------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        name: str = "",
        followers: int | None = 100,
        verified: bool = False,
        id: str | None = None,
    ) -> XUser:
        with self._lock:
            user = XUser(
                id=id or str(next(self._user_ids)),
                username=username,
                name=name or username.replace("_", " ").title(),
                followers=followers,
                verified=verified,
            )
            self.users[user.id] = user
            return user

    def add_tweet(
        self, text: str, *, author: XUser | str, created_at: datetime | None = None, **extra: Any
    ) -> XTweet:
        """Add a post with a fresh id, higher than every earlier one (as on X).

        `extra` sets any other `XTweet` field (lang, likes, mentions, searchable ...).
        """
        with self._lock:
            tweet_id = str(next(self._tweet_ids))
            when = created_at or BASE_TIME + timedelta(minutes=len(self.tweets))
            author_id = author.id if isinstance(author, XUser) else author
            tweet = XTweet(id=tweet_id, text=text, author_id=author_id, created_at=when, **extra)
            self.tweets[tweet.id] = tweet
            return tweet

    def fail_next(
        self, failure: Reply, *, endpoint: str | None = None, times: int = 1, after: int = 0
    ) -> None:
        """Answer `times` requests (to `endpoint` only, if given) with `failure`, once `after`
        matching requests have been answered normally (e.g. after=1 fails the second page)."""
        self.script(failure, endpoint=endpoint, times=times, after=after)

    # -- answering ---------------------------------------------------------------------------

    def respond(self, request: RecordedRequest) -> Reply:
        status, body, headers = self._answer(request)
        return Reply.json(status, body, headers)

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        if request.endpoint == "":
            return 404, _problem(404, "Not Found", f"No route for {request.path}"), {}
        headers = self._rate_limit_headers(request.endpoint)
        auth = request.headers.get("authorization", "")
        if request.endpoint == "post":
            if not auth.startswith("OAuth "):
                return 403, _UNSUPPORTED_AUTH, headers
            return (*self._create_tweet(request.body), headers)
        if auth != f"Bearer {self.bearer_token}":
            return 401, _problem(401, "Unauthorized", "Unauthorized"), headers
        match = ENDPOINTS[request.endpoint][1].match(request.path)
        assert match is not None
        if request.endpoint == "user":
            return (*self._get_user(match["id"], request.params), headers)
        if request.endpoint == "mentions":
            user_id = match["id"]
            return (*self._timeline(request.params, lambda t: user_id in t.mentions, 5), headers)
        if "query" not in request.params:
            return 400, _invalid("query", "", "The `query` query parameter can not be empty"), {}
        return (*self._timeline(request.params, lambda t: t.searchable, 10), headers)

    def _rate_limit_headers(self, endpoint: str) -> dict[str, str]:
        with self._lock:
            used = self._window_used[endpoint] = self._window_used.get(endpoint, 0) + 1
        limit = _WINDOW_LIMITS[endpoint]
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(limit - used, 0)),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    def _timeline(
        self, params: dict[str, str], include: Any, smallest_page: int
    ) -> tuple[int, dict[str, Any]]:
        size = params.get("max_results", "10")
        if not size.isdigit() or not smallest_page <= int(size) <= 100:
            message = (
                f"The `max_results` query parameter value [{size}] is not between "
                f"{smallest_page} and 100"
            )
            return 400, _invalid("max_results", size, message)
        token = params.get("next_token") or params.get("pagination_token")
        with self._lock:
            before = self._tokens.get(token) if token else None
            if token and before is None:
                name = "next_token" if "next_token" in params else "pagination_token"
                return 400, _invalid(name, token, f"The `{name}` query parameter is invalid")
            since = int(params.get("since_id", "0") or 0)
            until = int(params["until_id"]) if params.get("until_id") else None
            matching = sorted(
                (
                    t
                    for t in self.tweets.values()
                    if include(t) and int(t.id) > since and (until is None or int(t.id) < until)
                ),
                key=lambda t: int(t.id),
                reverse=True,
            )
            start = 0
            if before is not None:
                older = (i for i, t in enumerate(matching) if int(t.id) < int(before))
                start = max(next(older, len(matching)) - self.page_overlap, 0)
            page = matching[start : start + int(size)]
            meta: dict[str, Any] = {"result_count": len(page)}
            if not page:
                return 200, {"meta": meta}
            meta = {"newest_id": page[0].id, "oldest_id": page[-1].id, **meta}
            if start + int(size) < len(matching):
                next_token = f"7140dibdnow9c7btw4{next(self._token_numbers):07d}"
                self._tokens[next_token] = page[-1].id
                meta["next_token"] = next_token
            tweet_fields = _fields(params, "tweet.fields")
            expansions = _fields(params, "expansions")
            body: dict[str, Any] = {
                "data": [t.as_json(tweet_fields, expansions) for t in page],
                "meta": meta,
            }
            if "author_id" in expansions:
                user_fields = _fields(params, "user.fields")
                author_ids = list(dict.fromkeys(t.author_id for t in page))
                body["includes"] = {
                    "users": [
                        self.users[a].as_json(user_fields) for a in author_ids if a in self.users
                    ]
                }
            return 200, body

    def _get_user(self, user_id: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            user = self.users.get(user_id)
            if user is None:  # X answers 200 with only `errors` for an unknown id
                return 200, {
                    "errors": [
                        {
                            "value": user_id,
                            "detail": f"Could not find user with id: [{user_id}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "id",
                            "resource_id": user_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            return 200, {"data": user.as_json(_fields(params, "user.fields"))}

    def _create_tweet(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return 400, _invalid("text", "", "The `text` field is required")
        text = body["text"]
        reply_to = str((body.get("reply") or {}).get("in_reply_to_tweet_id", ""))
        with self._lock:
            if any(post.text == text for post in self.posts):
                return 403, _problem(403, "Forbidden", DUPLICATE_CONTENT)
            parent = self.tweets.get(reply_to)
            tweet = self.add_tweet(
                text,
                author=self.account,
                created_at=datetime.now(UTC),
                in_reply_to_tweet_id=reply_to,
                in_reply_to_user_id=parent.author_id if parent else "",
                conversation_id=(parent.conversation_id or parent.id) if parent else "",
                searchable=False,
            )
            self.posts.append(tweet)
        return 201, {"data": {"edit_history_tweet_ids": [tweet.id], "id": tweet.id, "text": text}}


_UNSUPPORTED_AUTH = {
    "title": "Unsupported Authentication",
    "detail": (
        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
        "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
    ),
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}


def _invalid(parameter: str, value: str, message: str) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def _fields(params: dict[str, str], name: str) -> set[str]:
    return {part for part in params.get(name, "").split(",") if part}


@pytest.fixture
def x_api() -> Iterator[XApiServer]:
    """A started fake X API, closed after the test."""
    with XApiServer() as server:
        yield server
