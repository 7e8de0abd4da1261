"""X (Twitter) source: recent search for the brands' terms, plus mentions of the brand account.

Talks to the X API v2 through tweepy's `Client` with an app-only bearer token; requests go
through `attach_api_url`, so `api_url` can point at a staging or local server. Each stream
(search, mentions) pages newest-first from its own `since_id`. A page's batch keeps the cursor
the poll started with; only the stream's last page carries the new cursor (`newest_id` of its
first page), so a crash in the middle of paging fetches the same posts again (the store drops
repeats) and never skips any.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from listener.clock import Clock, SystemClock
from listener.domain import Engagement, FetchBatch, Mention, PollState, utc
from listener.errors import RateLimited, SettingsError, SourceDisabled, SourceError
from listener.settings import BrandSettings, Settings, SourceSettings, XSourceSettings
from listener.sources.x_transport import attach_api_url

__all__ = [
    "MAX_QUERY_LENGTH",
    "XSource",
    "build_search_query",
    "build_source",
    "decode_cursor",
    "encode_cursor",
]

# Recent search rejects longer queries on the standard plans.
MAX_QUERY_LENGTH = 512
# How long to stay away when a 429 comes without x-rate-limit-reset: X's rate-limit window.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)

EXPANSIONS = ["author_id"]
USER_FIELDS = ["public_metrics", "verified", "username", "name"]
TWEET_FIELDS = [
    "created_at",
    "public_metrics",
    "lang",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
]

SEARCH = "search"
MENTIONS = "mentions"

_OPERATOR_TERM = re.compile(r"[@#$][A-Za-z0-9_]+")
_BARE_WORD = re.compile(r"\w+")
_RESERVED_WORDS = {"OR", "AND"}


def build_source(
    config: SourceSettings,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    clock: Clock | None = None,
) -> XSource:
    """The X source for one `[[sources]]` entry with `kind = "x"`.

    Raises `SettingsError` when the search query would be too long for X, and `SourceDisabled`
    when the bearer token is not in the environment.
    """
    if not isinstance(config, XSourceSettings):
        raise SettingsError(f"sources.{config.name}: expected kind 'x', got {config.kind!r}")
    query = _search_query(config, settings)
    token = environ.get(config.bearer_token_env, "").strip()
    if not token:
        raise SourceDisabled(
            f"x source '{config.name}' is disabled: "
            f"set {config.bearer_token_env} to an X API bearer token"
        )
    return XSource(config, query=query, bearer_token=token, clock=clock)


def build_search_query(terms: Sequence[str]) -> str:
    """An X recent-search query matching any of `terms`, leaving retweets out.

    @handles, #hashtags and $cashtags stay X operators; single words stay bare; anything else
    (several words, dots, dashes) becomes an exact phrase. Repeats are dropped, case-blind.
    """
    rendered: list[str] = []
    seen: set[str] = set()
    for raw in terms:
        term = raw.replace('"', " ").strip()
        term = " ".join(term.split())
        if not term or term.casefold() in seen:
            continue
        seen.add(term.casefold())
        bare = _OPERATOR_TERM.fullmatch(term) or (
            _BARE_WORD.fullmatch(term) and term.upper() not in _RESERVED_WORDS
        )
        rendered.append(term if bare else f'"{term}"')
    if not rendered:
        raise ValueError("no search terms left after removing blanks")
    joined = rendered[0] if len(rendered) == 1 else "(" + " OR ".join(rendered) + ")"
    return f"{joined} -is:retweet"


def _search_query(config: XSourceSettings, settings: Settings) -> str:
    if config.query:
        query = config.query.strip()
        if len(query) > MAX_QUERY_LENGTH:
            raise SettingsError(
                f"sources.{config.name}.query: {len(query)} characters, over X's limit of "
                f"{MAX_QUERY_LENGTH} for recent search; shorten it"
            )
        return query
    brands = _brands_of(config, settings)
    query = build_search_query([term for brand in brands for term in brand.terms])
    if len(query) > MAX_QUERY_LENGTH:
        names = ", ".join(brand.name for brand in brands)
        raise SettingsError(
            f"sources.{config.name}: the X search query built from the terms of {names} is "
            f"{len(query)} characters, over X's limit of {MAX_QUERY_LENGTH}; set 'query' on "
            "this source or split the brands over several x sources with 'brands'"
        )
    return query


def _brands_of(config: XSourceSettings, settings: Settings) -> list[BrandSettings]:
    if not config.brands:
        return list(settings.brands)
    return [brand for brand in settings.brands if brand.name in config.brands]


def decode_cursor(cursor: str) -> dict[str, str]:
    """The `since_id` of each stream; a plain id (the older format) is the search stream's."""
    cursor = cursor.strip()
    if not cursor:
        return {}
    if cursor.isdigit():
        return {SEARCH: cursor}
    try:
        loaded = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items() if isinstance(v, str | int) and str(v)}


def encode_cursor(since_ids: Mapping[str, str]) -> str:
    return json.dumps({k: v for k, v in sorted(since_ids.items()) if v}, separators=(",", ":"))


class XSource:
    """Polls X recent search (and the brand account's mentions when `user_id` is set)."""

    kind = "x"

    def __init__(
        self,
        config: XSourceSettings,
        *,
        query: str,
        bearer_token: str,
        clock: Clock | None = None,
    ) -> None:
        self.name = config.name
        self.query = query
        self.config = config
        self._clock = clock or SystemClock()
        # wait_on_rate_limit would sleep inside the call (and spin without a reset header);
        # the scheduler skips this source until RateLimited.retry_at instead.
        self._client = tweepy.Client(bearer_token=bearer_token, wait_on_rate_limit=False)
        attach_api_url(self._client.session, config.api_url, config.timeout)

    def fetch(self, state: PollState) -> Iterator[FetchBatch]:
        since_ids = decode_cursor(state.cursor)
        streams: list[tuple[str, Callable[..., Any], tuple[str, ...]]] = [
            (SEARCH, self._client.search_recent_tweets, (self.query,))
        ]
        if self.config.user_id:
            streams.append((MENTIONS, self._client.get_users_mentions, (self.config.user_id,)))
        for stream, method, args in streams:
            for batch in self._fetch_stream(stream, method, args, since_ids):
                since_ids = decode_cursor(batch.state.cursor)
                yield batch

    def close(self) -> None:
        self._client.session.close()

    def _fetch_stream(
        self,
        stream: str,
        method: Callable[..., Any],
        args: tuple[str, ...],
        since_ids: dict[str, str],
    ) -> Iterator[FetchBatch]:
        old_state = PollState(cursor=encode_cursor(since_ids))
        since_id = since_ids.get(stream) or None
        pages = self._pages(method, args, since_id)
        notes: list[str] = []
        newest_id = ""
        page_number = 0
        while True:
            try:
                response = self._next_page(pages, stream)
            except SourceError as exc:
                if page_number or not since_id or not _since_id_refused(exc):
                    raise
                # Recent search reaches back only 7 days; after a longer outage X refuses the
                # saved since_id. Start again from what X still has, and say a gap is likely.
                notes.append(
                    f"{stream}: X no longer accepts since_id {since_id} (the last poll was "
                    "too long ago); fetched from the oldest posts X still serves, so posts "
                    "in between were missed"
                )
                since_id = None
                pages = self._pages(method, args, None)
                continue
            if response is None:  # tweepy stops before a page only when there is no next page
                return
            page_number += 1
            meta: Mapping[str, Any] = response.meta or {}
            if page_number == 1:
                newest_id = str(meta.get("newest_id") or "")
            mentions = self._mentions(response, stream)
            more = bool(meta.get("next_token"))
            if more and page_number < self.config.max_pages:
                yield FetchBatch(mentions=mentions, state=old_state)
                continue
            if more:
                notes.append(
                    f"{stream}: stopped after max_pages={self.config.max_pages} pages with more "
                    "posts waiting; older posts since the last poll were not fetched (raise "
                    "max_pages or poll more often)"
                )
            new_since_ids = dict(since_ids)
            if newest_id:
                new_since_ids[stream] = newest_id
            yield FetchBatch(
                mentions=mentions,
                state=PollState(cursor=encode_cursor(new_since_ids)),
                notes=notes,
            )
            return

    def _pages(
        self, method: Callable[..., Any], args: tuple[str, ...], since_id: str | None
    ) -> Iterator[Any]:
        return iter(
            tweepy.Paginator(
                method,
                *args,
                since_id=since_id,
                max_results=self.config.page_size,
                expansions=EXPANSIONS,
                user_fields=USER_FIELDS,
                tweet_fields=TWEET_FIELDS,
                limit=self.config.max_pages,
            )
        )

    def _next_page(self, pages: Iterator[Any], stream: str) -> Any:
        what = "recent search" if stream == SEARCH else f"mentions of user {self.config.user_id}"
        retry = "it will be retried on the next run"
        prefix = f"x source '{self.name}'"
        try:
            return next(pages)
        except StopIteration:
            return None
        except tweepy.TooManyRequests as exc:
            raise self._rate_limited(exc.reset_time) from exc
        except tweepy.Unauthorized as exc:
            raise SourceError(
                f"{prefix}: X refused the bearer token (401 Unauthorized); check the bearer "
                f"token in {self.config.bearer_token_env}"
            ) from exc
        except tweepy.Forbidden as exc:
            raise SourceError(
                f"{prefix}: X refused {what} (403 Forbidden: {_api_message(exc)}); the app's "
                "plan may not include this endpoint or the app lacks permission; check the "
                "plan and app settings in the X developer portal"
            ) from exc
        except tweepy.NotFound as exc:
            raise SourceError(
                f"{prefix}: X found nothing at {what} (404: {_api_message(exc)}); "
                "check 'user_id' in settings"
            ) from exc
        except tweepy.BadRequest as exc:
            raise SourceError(
                f"{prefix}: X rejected the {what} request (400: {_api_message(exc)}); "
                "check 'query' and 'user_id' in settings"
            ) from exc
        except tweepy.TwitterServerError as exc:
            raise SourceError(
                f"{prefix}: X answered {what} with a server error "
                f"({exc.response.status_code} {exc.response.reason}); {retry}"
            ) from exc
        except tweepy.HTTPException as exc:
            raise SourceError(f"{prefix}: X answered {what} with {exc}; {retry}") from exc
        except requests.Timeout as exc:
            raise SourceError(
                f"{prefix}: X did not answer {what} within "
                f"{self.config.timeout.total_seconds():g}s; {retry}"
            ) from exc
        except requests.JSONDecodeError as exc:
            raise SourceError(
                f"{prefix}: X answered {what} with a body that is not valid JSON; {retry}"
            ) from exc
        except requests.ConnectionError as exc:
            raise SourceError(
                f"{prefix}: could not connect to {self.config.api_url} ({exc}); {retry}"
            ) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{prefix}: request to X failed ({exc}); {retry}") from exc

    def _rate_limited(self, reset_time: int | None) -> RateLimited:
        if reset_time is not None:
            retry_at = datetime.fromtimestamp(reset_time, UTC)
            why = "X's rate limit resets"
        else:
            retry_at = self._clock.now() + DEFAULT_RATE_LIMIT_WAIT
            why = "X sent no reset time, so waiting 15 minutes"
        return RateLimited(
            f"x source '{self.name}' is rate-limited by X; it will poll again after "
            f"{retry_at:%Y-%m-%d %H:%M} UTC ({why})",
            retry_at=retry_at,
        )

    def _mentions(self, response: Any, stream: str) -> list[Mention]:
        fetched_at = self._clock.now()
        try:
            users = {str(user.id): user for user in (response.includes or {}).get("users", [])}
            return [
                _mention(tweet, users.get(str(tweet.author_id)), self.name, fetched_at)
                for tweet in response.data or []
            ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SourceError(
                f"x source '{self.name}': X sent a {stream} page that is not shaped like the "
                f"v2 API ({type(exc).__name__}: {exc}); it will be retried on the next run"
            ) from exc


def _mention(tweet: Any, user: Any, source: str, fetched_at: datetime) -> Mention:
    tweet_id = str(tweet.id)
    metrics: Mapping[str, int] = tweet.public_metrics or {}
    username = str(user.username) if user is not None else ""
    followers: int | None = None
    if user is not None and user.public_metrics:
        followers = int(user.public_metrics["followers_count"])
    replied_to = next(
        (str(ref.id) for ref in tweet.referenced_tweets or () if ref.type == "replied_to"), ""
    )
    return Mention(
        source=source,
        source_kind="x",
        external_id=tweet_id,
        text=str(tweet.text),
        url=(
            f"https://x.com/{username}/status/{tweet_id}"
            if username
            else f"https://x.com/i/web/status/{tweet_id}"
        ),
        author=f"@{username}" if username else "",
        author_name=str(user.name or "") if user is not None else "",
        author_followers=followers,
        author_verified=user.verified if user is not None else None,
        published_at=utc(tweet.created_at) if tweet.created_at else None,
        fetched_at=fetched_at,
        lang=str(tweet.lang or ""),
        engagement=Engagement(
            replies=int(metrics.get("reply_count", 0)),
            reposts=int(metrics.get("retweet_count", 0)),
            likes=int(metrics.get("like_count", 0)),
            quotes=int(metrics.get("quote_count", 0)),
        ),
        in_reply_to=replied_to,
        in_reply_to_user=str(getattr(tweet, "in_reply_to_user_id", None) or ""),
    )


def _since_id_refused(exc: SourceError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, tweepy.BadRequest) and "since_id" in " ".join(cause.api_messages)


def _api_message(exc: tweepy.HTTPException) -> str:
    messages = [str(m) for m in exc.api_messages if m]
    return "; ".join(messages) or f"{exc.response.status_code} {exc.response.reason}"
