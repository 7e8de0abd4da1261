"""A local Bluesky AppView that answers `app.bsky.feed.searchPosts` like the real one.

Posts are postView objects (see tests/fixtures/bluesky/search_posts.json); `load_fixture` adds
real-shaped ones, `add_post` makes more. Search matches every word or quoted phrase of `q`
(case-blind, Bluesky has no OR), sorts newest first by the earlier of createdAt and indexedAt,
honours `since`, `limit` and `cursor`, and answers errors in XRPC's {"error", "message"} shape.
Script failures with `fail_next(Reply...)` or the helpers on `BlueskyFailure`.

    with BlueskyApiServer() as bsky:
        bsky.load_fixture("search_posts.json")
        bsky.fail_next(BlueskyFailure.rate_limited(reset=1_800_000_000))
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.fakes.local_http import LocalHttpServer, RecordedRequest, Reply
from tests.support.paths import FIXTURES

__all__ = ["FIXTURES", "BlueskyApiServer", "BlueskyFailure", "bluesky_api"]

FIXTURES = FIXTURES / "bluesky"
BASE_TIME = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
ENDPOINTS = {"search": ("GET", re.compile(r"^/xrpc/app\.bsky\.feed\.searchPosts$"))}
_PHRASE_OR_WORD = re.compile(r'"([^"]+)"|(\S+)')


class BlueskyFailure(Reply):
    """Scripted bad answers shaped like an AppView's."""

    @classmethod
    def rate_limited(cls, reset: int | None = None) -> BlueskyFailure:
        """429; `reset` (epoch seconds) goes in ratelimit-reset, None leaves it out."""
        headers = {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "0",
            "ratelimit-policy": "3000;w=300",
        }
        if reset is not None:
            headers["ratelimit-reset"] = str(reset)
        body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        return cls.json(429, body, headers)

    @classmethod
    def error(cls, status: int, error: str, message: str) -> BlueskyFailure:
        return cls.json(status, {"error": error, "message": message})

    @classmethod
    def slow(cls, seconds: float) -> BlueskyFailure:
        return cls.json(200, {"posts": []}, delay=seconds)

    @classmethod
    def malformed_json(cls) -> BlueskyFailure:
        return cls(200, b'{"posts":[{"uri":"at://did:plc:x/app.bsky.feed.post/1","ci')


class BlueskyApiServer(LocalHttpServer):
    """The fake AppView; `posts` holds the postViews it can find."""

    endpoints = ENDPOINTS

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = []
        self._rkeys = itertools.count(1)

    def fail_next(self, failure: Reply, *, times: int = 1, after: int = 0) -> None:
        self.script(failure, endpoint="search", times=times, after=after)

    def load_fixture(self, name: str) -> list[dict[str, Any]]:
        """Add the posts of a searchPosts answer saved under tests/fixtures/bluesky/."""
        posts = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["posts"]
        with self._lock:
            self.posts.extend(copy.deepcopy(posts))
        return list(posts)

    def add_post(
        self,
        text: str,
        *,
        handle: str = "someone.bsky.social",
        created_at: datetime | None = None,
        likes: int = 0,
    ) -> dict[str, Any]:
        """Add a postView by `handle`; times default to a minute apart after BASE_TIME."""
        with self._lock:
            number = next(self._rkeys)
            when = created_at or BASE_TIME + timedelta(minutes=number)
            did = f"did:plc:fake{zlib.crc32(handle.encode()):012d}"
            post = {
                "uri": f"at://{did}/app.bsky.feed.post/3mfake{number:07d}",
                "cid": f"bafyreifake{number:046d}",
                "author": {
                    "did": did,
                    "handle": handle,
                    "displayName": handle.split(".")[0].title(),
                    "labels": [],
                },
                "record": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": _stamp(when),
                    "langs": ["en"],
                    "text": text,
                },
                "replyCount": 0,
                "repostCount": 0,
                "likeCount": likes,
                "quoteCount": 0,
                "indexedAt": _stamp(when + timedelta(seconds=1)),
                "labels": [],
            }
            self.posts.append(post)
            return post

    def respond(self, request: RecordedRequest) -> Reply:
        if request.endpoint != "search":
            return Reply.json(
                404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
            )
        params = request.params
        query = params.get("q", "").strip()
        if not query:
            return BlueskyFailure.error(
                400, "InvalidRequest", 'Error: Params must have the property "q"'
            )
        limit = params.get("limit", "25")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return BlueskyFailure.error(400, "InvalidRequest", "Error: limit must be <= 100")
        since = _parse(params["since"]) if params.get("since") else None
        wanted = [m.group(1) or m.group(2) for m in _PHRASE_OR_WORD.finditer(query.casefold())]
        with self._lock:
            found = [
                p
                for p in self.posts
                if all(w in p["record"]["text"].casefold() for w in wanted)
                and (since is None or _sort_at(p) >= since)
            ]
        found.sort(key=_sort_at, reverse=True)
        start = int(params.get("cursor") or 0)
        page = found[start : start + int(limit)]
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(found)}
        if start + int(limit) < len(found):
            body["cursor"] = str(start + int(limit))
        return Reply.json(200, body)


def _parse(stamp: str) -> datetime:
    text = stamp.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # trim nanoseconds to what Python reads
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def _sort_at(post: dict[str, Any]) -> datetime:
    """The earlier of when the post says it was made and when it was indexed; only the
    second when the first is no time at all (a client can write anything there)."""
    indexed = _parse(post["indexedAt"])
    try:
        return min(_parse(post["record"]["createdAt"]), indexed)
    except (ValueError, OverflowError):
        return indexed


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.fixture
def bluesky_api() -> Iterator[BlueskyApiServer]:
    """A started fake Bluesky AppView, closed after the test."""
    with BlueskyApiServer() as server:
        yield server
