"""A real HTTP server on 127.0.0.1 for tests: scripted routes, real bytes, real sockets.

    with LocalServer() as server:
        server.serve_feed("/feed.xml", body, etag='"v1"')      # conditional GET aware
        server.route("/boom", status=500)
        server.route("/slow", body=b"...", delay=5)             # headers only after 5 s
        server.route("/drip", body=b"...", trickle=0.2)         # one byte every 0.2 s
        url = server.url("/feed.xml")

Every request is recorded in `server.requests` (method, path, headers, the connection it came
on) for assertions.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0


@dataclass
class Route:
    replies: list[Reply]
    etag: str = ""
    last_modified: str = ""
    handler: Callable[[dict[str, Any]], Reply] | None = None
    hits: int = 0

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        return reply


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: str = ""  # the client's address and port: one per connection it opened


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                host, port = self.client_address[:2]
                request = Request(
                    self.command, self.path, dict(self.headers), body, f"{host}:{port}"
                )
                with server._lock:
                    server.requests.append(request)
                    route = server.routes.get(self.path.split("?", 1)[0])
                    reply = server._reply_for(route, request)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server._send(self, reply)

            do_GET = _handle
            do_POST = _handle
            do_HEAD = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def route(
        self,
        path: str,
        *,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
        then: list[Reply] | None = None,
    ) -> Route:
        """Answer `path` with this reply (and, on later hits, the replies in `then`)."""
        data = body.encode() if isinstance(body, str) else body
        first = Reply(status, data, dict(headers or {}), delay, trickle)
        route = Route([first, *(then or [])])
        self.routes[path] = route
        return route

    def serve_feed(
        self,
        path: str,
        body: bytes | str,
        *,
        etag: str = "",
        last_modified: str = "",
        content_type: str = "application/rss+xml; charset=utf-8",
    ) -> Route:
        """Serve a feed that answers 304 when the client sends matching validators."""
        route = self.route(path, body=body, headers={"Content-Type": content_type})
        route.etag = etag
        route.last_modified = last_modified
        return route

    def handle(self, path: str, handler: Callable[[dict[str, Any]], Reply]) -> Route:
        """Compute each reply from the request (dict with method, path, query, headers, body)."""
        route = Route([Reply()], handler=handler)
        self.routes[path] = route
        return route

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path.split("?", 1)[0] == path)

    def _reply_for(self, route: Route | None, request: Request) -> Reply:
        if route is None:
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        if route.handler is not None:
            path, _, query = request.path.partition("?")
            route.hits += 1
            return route.handler(
                {
                    "method": request.method,
                    "path": path,
                    "query": query,
                    "headers": request.headers,
                    "body": request.body,
                }
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        if route.etag and headers.get("if-none-match") == route.etag:
            route.hits += 1
            return Reply(304, b"", {"ETag": route.etag})
        if route.last_modified and headers.get("if-modified-since") == route.last_modified:
            route.hits += 1
            return Reply(304, b"", {"Last-Modified": route.last_modified})
        reply = route.next_reply()
        extra = {}
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        return Reply(
            reply.status, reply.body, {**extra, **reply.headers}, reply.delay, reply.trickle
        )

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        handler.send_response(reply.status)
        headers = {k.lower(): v for k, v in reply.headers.items()}
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        if "content-length" not in headers:
            handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if handler.command == "HEAD" or reply.status == 304:
            return
        if reply.trickle:
            for i in range(len(reply.body)):
                handler.wfile.write(reply.body[i : i + 1])
                handler.wfile.flush()
                time.sleep(reply.trickle)
        else:
            handler.wfile.write(reply.body)
