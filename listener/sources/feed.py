"""RSS, Atom and RDF feeds: fetched with httpx, parsed by feedparser from bytes.

feedparser's own fetching has no timeout and no size limit, so we fetch: a connect/read
timeout, one overall deadline over connecting, every redirect hop, the headers and the body
(a server that trickles bytes forever is cut off; see `bounded_http`), a size cap on the decoded
bytes as they stream, a bounded number of redirects, and conditional GET (ETag /
Last-Modified) so an unchanged feed costs one 304. Local files (a path or file:// URL) are read
directly, which is how the bundled demo works with no network.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
import threading
import time
from calendar import timegm
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import feedparser
import feedparser.api
import httpx

from listener.clock import Clock, SystemClock
from listener.domain import FetchBatch, Mention, PollState
from listener.errors import RateLimited, SourceError
from listener.settings import FeedSourceSettings, Settings
from listener.sources.bounded_http import (
    BodyTooLarge,
    UndecodableBody,
    fetch_deadline,
    make_client,
    read_body,
)
from listener.sources.html_text import clean_text, html_to_text

# feedparser asks SAX for the libxml2 driver first on every parse. It is not installed, so each
# parse paid for a failed import (a search of sys.path under the import lock): with 64 polls at
# once that was a quarter of polling time. Name the standard library's expat reader, which is
# what SAX falls back to anyway; parsing is unchanged.
feedparser.api.PREFERRED_XML_PARSERS = ["xml.sax.expatreader"]

USER_AGENT = "listener/0.1 (+https://github.com/; social listening; polite polling)"
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchedBytes:
    body: bytes
    content_type: str
    url: str
    etag: str = ""
    last_modified: str = ""
    not_modified: bool = False


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs real CPU time; a thousand feeds share one context.
    return httpx.create_ssl_context()


def _timeout(timeout: timedelta) -> httpx.Timeout:
    seconds = timeout.total_seconds()
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def make_http_client(
    timeout: timedelta, *, max_connections: int = 20, max_keepalive: int = 10
) -> httpx.Client:
    """A client for feed fetching; each request passes its own source's timeout."""
    return make_client(
        verify=_tls_context(),
        timeout=_timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        ),
    )


class HostClients:
    """HTTP clients shared by every feed-family source of a process, one per host.

    Connections are kept alive and reused per host, so a round over many feeds on one site opens a
    few connections (and makes a few TLS handshakes) instead of one per feed, and a thousand feeds
    build one client per site instead of a thousand. One client per host, not one for all:
    httpcore's pool scans all of its connections for every request, which with dozens of polling
    threads over many sites costs more than the reuse saves. A poll holds one connection at a time
    and `ConcurrentPolling` lets at most `per_host` polls at a host at once, so each pool holds that
    many. Whoever makes it closes it.
    """

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._clients: dict[str, httpx.Client] = {}

    def client_for(self, url: str) -> httpx.Client:
        host = urlparse(url).netloc.lower()
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                client = self._clients[host] = make_http_client(
                    timedelta(seconds=20),
                    max_connections=self.per_host + 1,
                    max_keepalive=self.per_host + 1,
                )
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def fetch_url(
    client: httpx.Client,
    url: str,
    state: PollState,
    *,
    name: str,
    timeout: timedelta,
    max_bytes: int,
    accept: str = "application/rss+xml, application/atom+xml, application/xml, text/xml, */*",
) -> FetchedBytes:
    """GET with validators, a size cap and an overall deadline; errors become SourceError."""
    headers = {"Accept": accept}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    seconds = timeout.total_seconds()
    late = (
        f"source {name!r}: {url} timed out: no complete answer within {seconds:g}s "
        "(connecting, redirects, headers and body together); will retry on the next run"
    )
    deadline = time.monotonic() + seconds
    try:
        with (
            fetch_deadline(seconds),
            client.stream("GET", url, headers=headers, timeout=_timeout(timeout)) as response,
        ):
            if response.status_code == 304:
                # Read the (empty) body: a response closed unread takes its connection
                # with it, and the next poll of this site would have to open a new one.
                response.read()
                return FetchedBytes(
                    b"", "", str(response.url), state.etag, state.last_modified, True
                )
            _raise_for_status(response, name, url)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(_too_big(name, url, max_bytes))
            try:
                body = read_body(response, max_bytes=max_bytes)
            except BodyTooLarge:
                raise SourceError(_too_big(name, url, max_bytes)) from None
            except UndecodableBody as exc:
                raise SourceError(
                    f"source {name!r}: {url} cannot be read: {exc}; will retry on the next run"
                ) from None
            return FetchedBytes(
                body=body,
                content_type=response.headers.get("content-type", ""),
                url=str(response.url),
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
            )
    except httpx.TooManyRedirects:
        raise SourceError(
            f"source {name!r}: {url} redirects more than {MAX_REDIRECTS} times (a loop?); "
            "fix the URL in settings"
        ) from None
    except httpx.TimeoutException as exc:
        if time.monotonic() >= deadline:
            raise SourceError(late) from None
        raise SourceError(
            f"source {name!r}: {url} timed out ({type(exc).__name__}); will retry on the next run"
        ) from None
    except httpx.HTTPError as exc:
        raise SourceError(
            f"source {name!r}: cannot reach {url}: {exc}; will retry on the next run"
        ) from None


def _too_big(name: str, url: str, max_bytes: int) -> str:
    return (
        f"source {name!r}: {url} is larger than the {max_bytes:,} byte limit; refused "
        "(raise max_bytes for this source if the feed is really that big)"
    )


def _raise_for_status(response: httpx.Response, name: str, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        retry_at = _retry_after(response.headers.get("retry-after", ""))
        raise RateLimited(
            f"source {name!r}: {url} asked us to slow down (HTTP {status}); "
            f"next poll after {retry_at:%Y-%m-%d %H:%M:%S} UTC",
            retry_at,
        )
    if status in (401, 403):
        raise SourceError(
            f"source {name!r}: {url} refused access (HTTP {status}); check the URL or whether "
            "the feed needs credentials"
        )
    if status in (404, 410):
        raise SourceError(f"source {name!r}: {url} does not exist (HTTP {status}); fix the URL")
    raise SourceError(f"source {name!r}: {url} answered HTTP {status}; will retry on the next run")


def _retry_after(value: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        parsed = parsedate_to_datetime(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return now + timedelta(minutes=5)


def read_local(path: Path, *, name: str, max_bytes: int) -> FetchedBytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(_too_big(name, str(path), max_bytes))
        body = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"source {name!r}: file {path} does not exist; fix 'url'") from None
    except OSError as exc:
        raise SourceError(f"source {name!r}: cannot read {path}: {exc.strerror}") from None
    stamp = str(path.stat().st_mtime_ns)
    return FetchedBytes(body, "application/xml", path.as_uri(), etag=stamp)


def parse_feed(
    fetched: FetchedBytes, *, name: str, kind: str, fetched_at: datetime
) -> tuple[list[Mention], list[str]]:
    """Entries as mentions, plus notes about anything odd that was recovered from."""
    if _looks_like_html(fetched):
        raise SourceError(
            f"source {name!r}: {fetched.url} is a web page, not an RSS/Atom feed; "
            "use the site's feed URL (often linked as 'RSS' or ending in /feed)"
        )
    # No content-location: feedparser would resolve plain guids against the feed URL, making
    # ids depend on where the feed is served from. Relative links are joined below instead.
    parsed: Any = feedparser.parse(
        fetched.body,
        response_headers={"content-type": fetched.content_type or "application/xml"},
        sanitize_html=False,  # we reduce HTML to text ourselves,
        resolve_relative_uris=False,  # so links inside it need no resolving (an HTML parse)
    )
    entries = list(parsed.get("entries") or [])
    notes: list[str] = []
    if parsed.get("bozo") and not entries:
        raise SourceError(
            f"source {name!r}: {fetched.url} is not a readable feed "
            f"({_bozo(parsed)}); will retry on the next run"
        )
    if not parsed.get("version") and not entries:
        raise SourceError(
            f"source {name!r}: {fetched.url} is not an RSS/Atom feed (got "
            f"{fetched.content_type or 'an unknown document'}); check the URL"
        )
    if parsed.get("bozo"):
        notes.append(f"feed is malformed ({_bozo(parsed)}); {len(entries)} entries recovered")
    mentions: list[Mention] = []
    undated = 0
    for entry in entries:
        mention = entry_to_mention(
            entry, name=name, kind=kind, fetched_at=fetched_at, base_url=fetched.url
        )
        if mention is None:
            continue
        if mention.published_at is None:
            undated += 1
            mention = _with_published(mention, fetched_at)
        mentions.append(mention)
    if undated:
        notes.append(f"{undated} entries had no readable date; used the fetch time")
    return mentions, notes


def dated_from(mentions: list[Mention], anchor: datetime, now: datetime) -> list[Mention]:
    """The mentions moved in time together so that `anchor` (a moment in the file) is `now`:
    a demo or test feed with fixed dates reads as happening today. Entries dated after the
    anchor would land in the future and are left out."""
    offset = now - anchor
    moved = [
        replace(m, published_at=m.published_at + offset)
        for m in mentions
        if m.published_at is not None
    ]
    return [m for m in moved if m.published_at is not None and m.published_at <= now]


def _looks_like_html(fetched: FetchedBytes) -> bool:
    head = fetched.body[:512].lstrip().lower()
    return "text/html" in fetched.content_type.lower() or head.startswith(
        (b"<!doctype html", b"<html")
    )


def _bozo(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "malformed XML"


def _with_published(mention: Mention, at: datetime) -> Mention:
    from dataclasses import replace

    return replace(mention, published_at=at)


def _entry_link(link: str, base_url: str) -> tuple[str, str]:
    """The entry's link made absolute, and the same if it is an http(s) URL (else '').

    A link no URL parser can read ("http://[::1") is kept as it is for the entry's id but not
    stored as its URL: it raised ValueError and failed the whole feed, on every poll.
    """
    try:
        if link and base_url.startswith(("http://", "https://")):
            link = urljoin(base_url, link)
        return link, link if urlparse(link).scheme in ("http", "https") else ""
    except ValueError:
        return link, ""


def entry_to_mention(
    entry: Mapping[str, Any], *, name: str, kind: str, fetched_at: datetime, base_url: str = ""
) -> Mention | None:
    title = html_to_text(str(entry.get("title") or ""))
    body = ""
    for content in entry.get("content") or ():
        value = str(content.get("value") or "")
        if len(value) > len(body):
            body = value
    summary = str(entry.get("summary") or "")
    text = html_to_text(body if len(body) >= len(summary) else summary)
    link, url = _entry_link(str(entry.get("link") or "").strip(), base_url)
    if not (title or text):
        return None
    external_id = str(entry.get("id") or entry.get("guid") or link or "")
    if not external_id:
        digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]
        external_id = f"sha256:{digest}"
    author = clean_text(str(entry.get("author") or ""))
    return Mention(
        source=name,
        external_id=external_id[:1000],
        text=text,
        title=title,
        url=url,
        author=author[:400],
        author_name=author[:400],
        published_at=_entry_time(entry),
        fetched_at=fetched_at,
        lang=str(entry.get("language") or "")[:20],
        source_kind=kind,
    )


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


class FeedSource:
    """One feed URL or local file."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        kind: str = "feed",
        timeout: timedelta = timedelta(seconds=20),
        max_bytes: int = 10_000_000,
        clients: HostClients | None = None,
        base_dir: Path | None = None,
        clock: Clock | None = None,
        dates_anchor: datetime | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        # Its own clients when none are shared (one source on its own, tests).
        self._own_clients = clients is None
        self._clients = clients or HostClients(per_host=1)
        self._base_dir = base_dir or Path(".")
        self._clock = clock or SystemClock()
        self.dates_anchor = dates_anchor

    @property
    def local_path(self) -> Path | None:
        parsed = urlparse(self.url)
        if parsed.scheme in ("http", "https"):
            return None
        raw = Path(parsed.path) if parsed.scheme == "file" else Path(self.url).expanduser()
        return raw if raw.is_absolute() else (self._base_dir / raw).resolve()

    def fetch(self, state: PollState) -> Iterator[FetchBatch]:
        now = self._clock.now()
        path = self.local_path
        if path is not None:
            fetched = read_local(path, name=self.name, max_bytes=self.max_bytes)
            if state.etag and fetched.etag == state.etag:
                yield FetchBatch((), state, not_modified=True)
                return
        else:
            fetched = fetch_url(
                self._clients.client_for(self.url),
                self.url,
                state,
                name=self.name,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
            )
            if fetched.not_modified:
                yield FetchBatch((), state, not_modified=True)
                return
        mentions, notes = parse_feed(fetched, name=self.name, kind=self.kind, fetched_at=now)
        if self.dates_anchor is not None:
            mentions = dated_from(mentions, self.dates_anchor, now)
        new_state = PollState(
            cursor=state.cursor, etag=fetched.etag, last_modified=fetched.last_modified
        )
        yield FetchBatch(mentions, new_state, notes=notes)

    def close(self) -> None:
        if self._own_clients:
            self._clients.close()


def build_source(
    config: FeedSourceSettings,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    clients: HostClients | None = None,
    clock: Clock | None = None,
) -> FeedSource:
    """`clients`: the HTTP clients this source shares with the others (see `HostClients`)."""
    return FeedSource(
        config.name,
        config.url,
        timeout=config.timeout,
        max_bytes=config.max_bytes,
        clients=clients,
        base_dir=settings.base_dir,
        clock=clock,
        dates_anchor=config.dates_anchor,
    )
