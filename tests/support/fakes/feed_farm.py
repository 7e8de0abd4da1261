"""Many RSS feeds behind one local server: for concurrency tests and the benchmarks.

    with FeedFarm(feeds=1000, latency=0.1) as farm:
        urls = farm.urls()                  # http://127.0.0.1:<port>/feeds/<i>.xml
        ...poll...
        farm.max_in_flight, farm.not_modified, farm.served_ids()

Each feed answers with its newest `window` items and an ETag, and with 304 when the client
sends that ETag back. With `grow=True` every full answer first adds one new item to the feed,
so a poller that keeps up sees one new mention per poll. `faults` (a probability) mixes in
scripted failures: HTTP 500, 429 with Retry-After, a reply slower than the client's timeout,
and a body that is not XML; only items sent in a good 200 count as served.
"""

from __future__ import annotations

import contextlib
import random
import re
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_PATH = re.compile(r"^/feeds/(\d+)\.xml$")
_TEXTS = (
    "{brand} support kept me on hold for an hour and nobody called back",
    "Loving the new {brand} app, checkout is so much faster now",
    "Is {brand} down? Nothing loads for me since this morning",
    "{brand} charged me twice this month and the refund still has not arrived",
    "Flight with {brand} delayed 3 hours, no information at the gate",
    "Great chat with {brand} today, problem solved in five minutes",
)
_BRANDS = ("O2", "Skyline Air")
FAULT_KINDS = ("500", "429", "slow", "malformed")


class FeedFarm:
    def __init__(
        self,
        feeds: int,
        *,
        latency: float = 0.0,
        window: int = 10,
        initial_items: int = 3,
        grow: bool = False,
        faults: float = 0.0,
        slow_seconds: float = 3.0,
        seed: int = 7,
        hosts: int = 1,
    ) -> None:
        self.feeds = feeds
        self.latency = latency
        self.window = window
        self.grow = grow
        self.faults = faults
        self.slow_seconds = slow_seconds
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._items: list[int] = [initial_items] * feeds  # items each feed has published
        self._served: set[tuple[int, int]] = set()
        self.requests: dict[int, list[float]] = defaultdict(list)  # feed -> monotonic times
        self.not_modified = 0
        self.full = 0
        self.faults_served: dict[str, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                with farm._lock:
                    farm.in_flight += 1
                    farm.max_in_flight = max(farm.max_in_flight, farm.in_flight)
                try:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        farm._answer(self)
                finally:
                    with farm._lock:
                        farm.in_flight -= 1

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client killed mid-request (the crash tests do that) is not news.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        # Several listening ports stand for several sites (politeness is per host:port).
        self._servers = [Server(("127.0.0.1", 0), Handler) for _ in range(max(1, hosts))]
        self._threads = [
            threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
            for s in self._servers
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    def url(self, feed: int) -> str:
        port = self._servers[feed % len(self._servers)].server_address[1]
        return f"http://127.0.0.1:{port}/feeds/{feed}.xml"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.feeds)]

    def served_ids(self) -> set[str]:
        """Entry ids sent in good 200 answers: what a poller must end up storing."""
        with self._lock:
            return {item_id(feed, n) for feed, n in self._served}

    def total_requests(self) -> int:
        with self._lock:
            return sum(len(times) for times in self.requests.values())

    def publish(self, feed: int, count: int = 1) -> None:
        with self._lock:
            self._items[feed] += count

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        match = _PATH.match(handler.path.split("?", 1)[0])
        if match is None or int(match[1]) >= self.feeds:
            _send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        feed = int(match[1])
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.requests[feed].append(time.monotonic())
            fault = self._pick_fault()
            if fault is not None:
                self.faults_served[fault] += 1
            elif handler.headers.get("If-None-Match") == self._etag(feed) and not self.grow:
                self.not_modified += 1
                fault = "304"
            else:
                if self.grow:
                    self._items[feed] += 1
                newest = self._items[feed]
                numbers = list(range(max(1, newest - self.window + 1), newest + 1))
                self._served.update((feed, n) for n in numbers)
                self.full += 1
                etag = self._etag(feed)
        if fault == "304":
            _send(handler, 304, b"", {"ETag": self._etag(feed)})
        elif fault == "500":
            _send(handler, 500, b"internal error", {"Content-Type": "text/plain"})
        elif fault == "429":
            _send(handler, 429, b"slow down", {"Retry-After": "1", "Content-Type": "text/plain"})
        elif fault == "slow":
            time.sleep(self.slow_seconds)
            _send(handler, 500, b"too late", {"Content-Type": "text/plain"})
        elif fault == "malformed":
            _send(handler, 200, b"<rss version='2.0'><channel><title>br", _RSS)
        else:
            _send(handler, 200, render_feed(feed, numbers), {**_RSS, "ETag": etag})

    def _pick_fault(self) -> str | None:
        if self.faults and self._random.random() < self.faults:
            return self._random.choice(FAULT_KINDS)
        return None

    def _etag(self, feed: int) -> str:
        return f'"{feed}-{self._items[feed]}"'


_RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def item_id(feed: int, number: int) -> str:
    return f"urn:farm:{feed}:{number}"


def item_text(feed: int, number: int) -> str:
    template = _TEXTS[(feed * 7 + number) % len(_TEXTS)]
    return template.format(brand=_BRANDS[(feed + number) % len(_BRANDS)]) + f" (#{feed}-{number})"


def render_feed(feed: int, numbers: list[int]) -> bytes:
    items = "".join(
        f"<item><title>{item_text(feed, n)}</title><guid isPermaLink='false'>{item_id(feed, n)}"
        f"</guid><link>https://blog{feed}.example/posts/{n}</link>"
        f"<pubDate>Mon, 23 Nov 2026 09:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>{item_text(feed, n)}</description></item>"
        for n in reversed(numbers)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>https://blog{feed}.example/</link>"
        f"<description>farm feed</description>{items}</channel></rss>"
    ).encode()


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 304 and body:
        handler.wfile.write(body)
