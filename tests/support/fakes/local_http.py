"""The plumbing every fake platform shares: a threaded HTTP server on 127.0.0.1, port 0.

A fake subclasses `LocalHttpServer` and implements `respond(request) -> Reply`; this module
records each request, applies scripted failures and writes the bytes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

__all__ = ["LocalHttpServer", "RecordedRequest", "Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. `endpoint` is the fake's name for the route ('' if unknown)."""

    method: str
    path: str
    endpoint: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    """An answer to send. `delay` holds it back (e.g. to outlast a client's timeout)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(
        cls, status: int, body: Any, headers: Mapping[str, str] | None = None, delay: float = 0.0
    ) -> Self:
        return cls(status, json.dumps(body).encode(), dict(headers or {}), delay)


@dataclass
class _Scripted:
    reply: Reply
    endpoint: str | None
    remaining: int
    skip: int


class LocalHttpServer:
    """Start with `start()` or `with`; `url` is the base URL; `requests` lists what came in."""

    endpoints: Mapping[str, tuple[str, Any]] = {}  # name -> (method, compiled path regex)

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._scripted: list[_Scripted] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        handler = type("_BoundHandler", (_Handler,), {"server_object": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        # A short poll interval keeps close() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.02,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # releases delayed answers still waiting
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def script(
        self, reply: Reply, *, endpoint: str | None = None, times: int = 1, after: int = 0
    ) -> None:
        """Answer `times` requests (to `endpoint` only, if given) with `reply`, once `after`
        matching requests have been answered normally (e.g. after=1 fails the second page)."""
        if endpoint is not None and endpoint not in self.endpoints:
            raise ValueError(
                f"unknown endpoint {endpoint!r}; expected one of {list(self.endpoints)}"
            )
        with self._lock:
            self._scripted.append(_Scripted(reply, endpoint, times, after))

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def respond(self, request: RecordedRequest) -> Reply:
        """The normal answer to `request`; subclasses implement it."""
        raise NotImplementedError

    def _endpoint_of(self, method: str, path: str) -> str:
        for name, (endpoint_method, route) in self.endpoints.items():
            if endpoint_method == method and route.match(path):
                return str(name)
        return ""

    def _take_scripted(self, endpoint: str) -> Reply | None:
        with self._lock:
            for scripted in self._scripted:
                if scripted.endpoint not in (None, endpoint) or scripted.remaining <= 0:
                    continue
                if scripted.skip > 0:
                    scripted.skip -= 1
                    continue
                scripted.remaining -= 1
                return scripted.reply
        return None


class _Handler(BaseHTTPRequestHandler):
    server_object: LocalHttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _handle(self) -> None:
        fake = self.server_object
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            endpoint=fake._endpoint_of(self.command, split.path),
            params=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        with fake._lock:
            fake.requests.append(request)
        reply = fake._take_scripted(request.endpoint) or fake.respond(request)
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        try:
            self.send_response(reply.status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout ran out): nothing left to tell it
