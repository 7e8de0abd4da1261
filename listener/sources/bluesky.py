"""Bluesky source: public post search (`app.bsky.feed.searchPosts`) for the brands' terms.

Bluesky search has no OR (every word must match) and no `since_id`, so each term is its own
search, newest first, bounded by `since` (a time) and paged with the server's `cursor`. The
saved cursor is, per search, the newest post time seen minus `LOOKBACK`, because posts reach
the index late and would otherwise slip in behind it; the store drops the repeats. As with X,
a search's pages keep the old cursor and only its last page carries the new one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from listener.clock import Clock, SystemClock
from listener.domain import Engagement, FetchBatch, Mention, PollState, utc
from listener.errors import RateLimited, SettingsError, SourceError
from listener.settings import BlueskySourceSettings, Settings, SourceSettings
from listener.sources.bounded_http import (
    BodyTooLarge,
    UndecodableBody,
    fetch_deadline,
    make_client,
    read_body,
)

__all__ = ["BlueskySource", "build_search_queries", "build_source"]

SEARCH_PATH = "/xrpc/app.bsky.feed.searchPosts"
PAGE_SIZE = 100  # the most searchPosts returns at once
MAX_PAGES = 5
# How far behind the newest post time the next search starts (late indexing).
LOOKBACK = timedelta(minutes=5)
# When a 429 has no ratelimit-reset header: Bluesky's rate-limit windows are a few minutes.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
USER_AGENT = "listener/0.1 (social listening)"


def build_source(
    config: SourceSettings,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    clock: Clock | None = None,
) -> BlueskySource:
    """The Bluesky source for one `[[sources]]` entry with `kind = "bluesky"` (no credentials)."""
    if not isinstance(config, BlueskySourceSettings):
        raise SettingsError(f"sources.{config.name}: expected kind 'bluesky', got {config.kind!r}")
    if config.query:
        queries = [config.query.strip()]
    else:
        brands = [b for b in settings.brands if not config.brands or b.name in config.brands]
        queries = build_search_queries([term for brand in brands for term in brand.terms])
    return BlueskySource(config, queries=queries, clock=clock)


def build_search_queries(terms: Sequence[str]) -> list[str]:
    """One Bluesky search per term: phrases quoted, X-style @handles searched as words."""
    queries: list[str] = []
    seen: set[str] = set()
    for raw in terms:
        term = " ".join(raw.replace('"', " ").split())
        if term.startswith("@"):
            term = term[1:]
        if not term or term.casefold() in seen:
            continue
        seen.add(term.casefold())
        queries.append(f'"{term}"' if " " in term else term)
    return queries


class BlueskySource:
    """Polls Bluesky's searchPosts for each query, newest first."""

    kind = "bluesky"

    def __init__(
        self,
        config: BlueskySourceSettings,
        *,
        queries: Sequence[str],
        clock: Clock | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.queries = list(queries)
        self._clock = clock or SystemClock()
        # One deadline over each whole request (redirects, headers, body) and a cap on the
        # decoded answer, as for feeds: see listener.sources.bounded_http.
        self._http = make_client(
            base_url=config.api_url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout.total_seconds()),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=True,
        )

    def fetch(self, state: PollState) -> Iterator[FetchBatch]:
        since = _decode_cursor(state.cursor)
        for query in self.queries:
            for batch in self._search(query, since):
                since = _decode_cursor(batch.state.cursor)
                yield batch

    def close(self) -> None:
        self._http.close()

    def _search(self, query: str, since: dict[str, str]) -> Iterator[FetchBatch]:
        old_state = PollState(cursor=_encode_cursor(since))
        newest: datetime | None = None
        page_cursor = ""
        for page_number in range(1, MAX_PAGES + 1):
            params = {"q": query, "limit": str(PAGE_SIZE), "sort": "latest"}
            if since.get(query):
                params["since"] = since[query]
            if page_cursor:
                params["cursor"] = page_cursor
            body = self._get(params)
            mentions, page_newest = self._mentions(body)
            if page_newest is not None and (newest is None or page_newest > newest):
                newest = page_newest
            page_cursor = body.get("cursor") or ""
            if page_cursor and mentions and page_number < MAX_PAGES:
                yield FetchBatch(mentions=mentions, state=old_state)
                continue
            notes: list[str] = []
            if page_cursor and mentions:
                notes.append(
                    f"search {query!r}: stopped after {MAX_PAGES} pages with more posts "
                    "waiting; older posts since the last poll were not fetched"
                )
            new_since = dict(since)
            if newest is not None:
                new_since[query] = _format_time(newest - LOOKBACK)
            yield FetchBatch(
                mentions=mentions, state=PollState(cursor=_encode_cursor(new_since)), notes=notes
            )
            return

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        prefix = f"bluesky source '{self.name}'"
        retry = "it will be retried on the next run"
        seconds = self.config.timeout.total_seconds()
        try:
            with (
                fetch_deadline(seconds),
                self._http.stream("GET", SEARCH_PATH, params=params) as response,
            ):
                raw = read_body(response, max_bytes=self.config.max_bytes)
        except httpx.TimeoutException as exc:
            raise SourceError(
                f"{prefix}: {self.config.api_url} did not answer within {seconds:g}s; {retry}"
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceError(
                f"{prefix}: could not reach {self.config.api_url} ({exc}); {retry}"
            ) from exc
        except BodyTooLarge:
            raise SourceError(
                f"{prefix}: the answer is larger than max_bytes={self.config.max_bytes}; {retry}"
            ) from None
        except UndecodableBody as exc:
            raise SourceError(
                f"{prefix}: Bluesky's answer cannot be read: {exc}; {retry}"
            ) from None
        status = response.status_code
        if status == 429:
            raise self._rate_limited(response.headers.get("ratelimit-reset", ""))
        if status >= 500:
            raise SourceError(f"{prefix}: Bluesky answered with a server error ({status}); {retry}")
        if status in (401, 403):
            raise SourceError(
                f"{prefix}: {self.config.api_url} refused anonymous search ({status}: "
                f"{_xrpc_message(response, raw)}); Bluesky has at times turned off search without "
                "login on its public API: point api_url at an AppView that allows it"
            )
        if status >= 400:
            raise SourceError(
                f"{prefix}: Bluesky rejected the search "
                f"({status}: {_xrpc_message(response, raw)}); "
                "check 'query' and the brand terms in settings"
            )
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SourceError(f"{prefix}: Bluesky's answer is not valid JSON; {retry}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("posts"), list):
            raise SourceError(
                f"{prefix}: Bluesky's answer has no 'posts' list (not a searchPosts answer; "
                f"is api_url right?); {retry}"
            )
        return body

    def _rate_limited(self, reset: str) -> RateLimited:
        if reset.strip().isdigit():
            retry_at = datetime.fromtimestamp(int(reset), UTC)
            why = "Bluesky's rate limit resets"
        else:
            retry_at = self._clock.now() + DEFAULT_RATE_LIMIT_WAIT
            why = "Bluesky sent no reset time, so waiting 5 minutes"
        return RateLimited(
            f"bluesky source '{self.name}' is rate-limited by Bluesky; it will poll again after "
            f"{retry_at:%Y-%m-%d %H:%M} UTC ({why})",
            retry_at=retry_at,
        )

    def _mentions(self, body: dict[str, Any]) -> tuple[list[Mention], datetime | None]:
        fetched_at = self._clock.now()
        mentions: list[Mention] = []
        newest: datetime | None = None
        for post in body["posts"]:
            try:
                mention, sort_at = _mention(post, self.name, fetched_at)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise SourceError(
                    f"bluesky source '{self.name}': a post in Bluesky's answer is not shaped "
                    f"like a postView ({type(exc).__name__}: {exc}); it will be retried on the "
                    "next run"
                ) from exc
            mentions.append(mention)
            if sort_at is not None and (newest is None or sort_at > newest):
                newest = sort_at
        return mentions, newest


def _mention(post: Mapping[str, Any], source: str, fetched_at: datetime) -> tuple[Mention, Any]:
    uri = str(post["uri"])
    author: Mapping[str, Any] = post["author"]
    record: Mapping[str, Any] = post.get("record") or {}
    handle = str(author.get("handle") or "")
    profile = handle if handle and handle != "handle.invalid" else str(author.get("did", ""))
    rkey = uri.rstrip("/").rsplit("/", 1)[-1]
    created = _parse_time(record.get("createdAt"))
    indexed = _parse_time(post.get("indexedAt"))
    # Bluesky sorts by the earlier of the two, so that is what the next `since` compares.
    sort_at = min((t for t in (created, indexed) if t is not None), default=None)
    langs = record.get("langs") or []
    reply_parent = ((record.get("reply") or {}).get("parent") or {}).get("uri", "")
    verification = author.get("verification") or {}
    verified = verification.get("verifiedStatus") == "valid" if verification else None
    mention = Mention(
        source=source,
        source_kind="bluesky",
        external_id=uri,
        text=str(record.get("text") or ""),
        url=f"https://bsky.app/profile/{profile}/post/{rkey}",
        author=f"@{handle}" if handle else "",
        author_name=str(author.get("displayName") or ""),
        author_followers=None,  # search results carry no follower counts
        author_verified=verified,
        published_at=created or indexed,
        fetched_at=fetched_at,
        lang=str(langs[0]) if langs else "",
        engagement=Engagement(
            replies=int(post.get("replyCount") or 0),
            reposts=int(post.get("repostCount") or 0),
            likes=int(post.get("likeCount") or 0),
            quotes=int(post.get("quoteCount") or 0),
        ),
        in_reply_to=str(reply_parent),
    )
    return mention, sort_at


def _parse_time(value: object) -> datetime | None:
    """An ISO 8601 time as aware UTC; None when missing or unreadable (clients write odd ones)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Some clients write nanoseconds; Python reads at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        return utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # OverflowError: outside the years 1-9999 in UTC
        return None


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _decode_cursor(cursor: str) -> dict[str, str]:
    if not cursor.strip():
        return {}
    try:
        loaded = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items() if isinstance(v, str) and v}


def _encode_cursor(since: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(since.items())), separators=(",", ":"), ensure_ascii=False)


def _xrpc_message(response: httpx.Response, raw: bytes) -> str:
    """The `message` (or `error`) of an XRPC error body, else the status text."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if message:
            return str(message)
    return response.reason_phrase or str(response.status_code)
