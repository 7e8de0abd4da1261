"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose, for the bounded-fetch tests.

    with HostileServer(drip=0.05) as server:
        server.drip("/slow")                         # headers one byte at a time, never ending
        server.redirect_chain("/hop", hops=5)         # five redirects, each one dripped
        server.raw("/bomb", headers, body)            # any bytes, e.g. a stacked-gzip bomb
        url = server.url("/slow")

`http.server` writes whole responses; these answers are written a byte at a time on the socket,
which is what a hostile or broken server does. Every connection is closed when the server stops.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import socket
import threading
import zlib
from collections.abc import Callable
from typing import Self

Handler = Callable[[socket.socket], None]


def stacked_gzip_bomb(decoded_size: int, layers: int = 2) -> bytes:
    """`decoded_size` zero bytes, gzipped `layers` times: 1 GiB in two layers is about 2 KB."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        block = bytes(1 << 20)
        left = decoded_size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)
    body = buffer.getvalue()
    for _ in range(layers - 1):
        body = gzip.compress(body, compresslevel=9)
    return body


def deflate_bomb(decoded_size: int) -> bytes:
    """`decoded_size` zero bytes as a zlib-wrapped deflate stream."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts, left = [], decoded_size
    while left > 0:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


class HostileServer:
    def __init__(self, drip: float = 0.05) -> None:
        self.interval = drip
        self.routes: dict[str, Handler] = {}
        self.hits: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def drip(self, path: str, *, response: bytes | None = None) -> None:
        """Send `response` one byte per interval; by default headers that never end."""

        def handler(conn: socket.socket) -> None:
            if response is not None:
                self._drip_bytes(conn, response)
                return
            self._drip_bytes(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
            while not self._stop.is_set():
                self._drip_bytes(conn, b"X-Padding: " + b"a" * 60 + b"\r\n")

        self.routes[path] = handler

    def redirect_chain(self, prefix: str, *, hops: int, final: Handler | None = None) -> None:
        """`prefix`/1 redirects to `prefix`/2 ... `prefix`/`hops`, each answer dripped."""
        for hop in range(1, hops + 1):
            target = f"{prefix}/{hop + 1}".encode()
            answer = b"HTTP/1.1 302 Found\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n\r\n"
            self.drip(f"{prefix}/{hop}", response=answer)
        if final is not None:
            self.routes[f"{prefix}/{hops + 1}"] = final
        else:
            self.drip(f"{prefix}/{hops + 1}")

    def raw(self, path: str, headers: dict[str, str], body: bytes) -> None:
        """Answer 200 with exactly these headers (Content-Length added) and body bytes."""
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        payload = head.encode("latin-1") + body

        def handler(conn: socket.socket) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(payload)

        self.routes[path] = handler

    def _drip_bytes(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(self.interval):
                return
            conn.sendall(data[i : i + 1])

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            path = request.split(b" ", 2)[1].decode("latin-1")
            with self._lock:
                self.hits.append(path)
            handler = self.routes.get(path.split("?", 1)[0])
            if handler is None:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                handler(conn)
            # Leave the connection open: the client decides when it has had enough.
            self._stop.wait()
