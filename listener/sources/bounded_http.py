"""HTTP fetches that end: one wall-clock deadline per fetch, and a cap on the bytes it decodes.

httpx's timeouts are per operation: a server that sends one byte of its headers every two
seconds never trips a 20 s read timeout, and five redirects that each drip add up. So every
socket operation of a client made by `make_client` is clamped to the deadline of the fetch
running in this thread (`fetch_deadline`), which covers connecting, the TLS handshake, the
headers of every redirect hop and the body; when it passes, the read fails with a timeout.
Reads also wait in short slices, so `abort_fetches(grace)` (called when the service is told to
stop) ends a fetch still in flight once the grace has passed, instead of after its deadline.

httpx decodes a compressed body a whole network chunk at a time, so 2 KB of `gzip, gzip`
become a gigabyte in one call before any size check can run. `read_body` reads the raw bytes
and decodes each layer itself, never producing more than `_OUT_CHUNK` bytes per step, so the
size cap applies to decoded bytes as they stream, through any number of stacked encodings.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = [
    "ACCEPT_ENCODING",
    "BodyTooLarge",
    "UndecodableBody",
    "abort_fetches",
    "fetch_deadline",
    "fetches_aborted",
    "make_client",
    "read_body",
    "resume_fetches",
]

# The encodings `read_body` can undo; the only ones we ask for.
ACCEPT_ENCODING = "gzip, deflate"
# How long one socket read may block before the deadline and the abort flag are looked at again.
_SLICE = 0.5
# The most bytes one decoding step may produce; with stacked encodings, each layer holds at
# most this much at a time.
_OUT_CHUNK = 64 * 1024

_DEADLINE: ContextVar[float | None] = ContextVar("listener_fetch_deadline", default=None)


class _Abort:
    """When fetches in flight must stop (a monotonic time), or None while they may run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: float | None = None


_ABORT = _Abort()

T = TypeVar("T")


class BodyTooLarge(Exception):
    """The body, decoded, is larger than the caller's limit; nothing more was read."""


class UndecodableBody(Exception):
    """The body's Content-Encoding is one we did not ask for, or its bytes are corrupt."""


def abort_fetches(grace: float = 0.0) -> None:
    """Make every fetch in this process fail at its next read once `grace` seconds have
    passed (the service stops: a fetch about to finish may, a dripping one is not waited for).
    A stop already under way is never pushed later."""
    at = time.monotonic() + grace
    with _ABORT.lock:
        if _ABORT.at is None or at < _ABORT.at:
            _ABORT.at = at


def fetches_aborted() -> bool:
    """True once an `abort_fetches` grace has run out, until `resume_fetches`."""
    at = _ABORT.at
    return at is not None and time.monotonic() >= at


def resume_fetches() -> None:
    """Allow fetches again after `abort_fetches` (the service stopped, or starts again)."""
    with _ABORT.lock:
        _ABORT.at = None


@contextlib.contextmanager
def fetch_deadline(seconds: float) -> Iterator[float]:
    """Everything the clients of `make_client` do in this block ends within `seconds`.

    A deadline already running in this thread (an outer fetch) is never extended.
    """
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    if outer is not None:
        end = min(end, outer)
    token = _DEADLINE.set(end)
    try:
        yield end
    finally:
        _DEADLINE.reset(token)


def _remaining(what: type[Exception]) -> float | None:
    """Seconds left before this thread's deadline (None: no deadline); raises `what` if none."""
    now = time.monotonic()
    abort_at = _ABORT.at
    if abort_at is not None and now >= abort_at:
        raise httpcore.ReadError("the fetch was stopped because the service is shutting down")
    end = _DEADLINE.get()
    if end is None:
        return None
    left = end - now
    if left <= 0:
        raise what("the fetch did not finish before its overall deadline")
    return left


def _clamp(timeout: float | None, what: type[Exception]) -> float | None:
    left = _remaining(what)
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


def _sliced(operation: Callable[[float], T], timeout: float | None, what: type[Exception]) -> T:
    """Run a blocking socket operation in short waits until it succeeds, times out or aborts."""
    own_end = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = _clamp(_SLICE, what)
        assert wait is not None
        if own_end is not None:
            left = own_end - time.monotonic()
            if left <= 0:
                raise what("timed out")
            wait = min(wait, left)
        try:
            return operation(wait)
        except what:
            continue


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write respects the running fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _sliced(lambda t: self._inner.read(max_bytes, t), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    """httpcore's socket backend, with connections that keep to the fetch deadline."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(
            host,
            port,
            _clamp(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)


def _deadline_transport(
    context: ssl.SSLContext, limits: httpx.Limits, proxy: httpx.Proxy | None = None
) -> httpx.HTTPTransport:
    """An httpx transport whose connections (direct or through an HTTP proxy) keep to the
    running fetch's deadline. httpx builds its httpcore pool without a way to choose the
    network backend, so the pool is rebuilt here with the same settings and ours."""
    transport = httpx.HTTPTransport(verify=context, limits=limits, trust_env=False, proxy=proxy)
    backend = _DeadlineBackend()
    if proxy is None:
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
    elif proxy.url.scheme in ("http", "https"):
        transport._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(
                scheme=proxy.url.raw_scheme,
                host=proxy.url.raw_host,
                port=proxy.url.port,
                target=proxy.url.raw_path,
            ),
            proxy_auth=proxy.raw_auth,
            proxy_headers=proxy.headers.raw,
            ssl_context=context,
            proxy_ssl_context=proxy.ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
    # A SOCKS proxy keeps httpx's own transport: per-operation timeouts only.
    return transport


class _DeadlineClient(httpx.Client):
    """An httpx client whose transports, including those for proxies named in the environment
    (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY with NO_PROXY, as httpx reads them), keep to the
    deadline."""

    def __init__(self, *, context: ssl.SSLContext, limits: httpx.Limits, **kwargs: Any) -> None:
        self._context = context
        # No `transport=` argument: httpx reads proxies from the environment only without one.
        super().__init__(verify=context, limits=limits, trust_env=True, **kwargs)

    def _init_transport(
        self, *args: Any, limits: httpx.Limits = httpx.Limits(), **kwargs: Any
    ) -> httpx.BaseTransport:
        return _deadline_transport(self._context, limits)

    def _init_proxy_transport(
        self, proxy: httpx.Proxy, *args: Any, limits: httpx.Limits = httpx.Limits(), **kwargs: Any
    ) -> httpx.BaseTransport:
        return _deadline_transport(self._context, limits, proxy)


def make_client(
    *,
    verify: ssl.SSLContext | bool = True,
    timeout: httpx.Timeout,
    limits: httpx.Limits | None = None,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
    base_url: str = "",
) -> httpx.Client:
    """An httpx client whose connections keep to `fetch_deadline` and stop on `abort_fetches`."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
    return _DeadlineClient(
        context=context,
        limits=limits or httpx.Limits(),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
        base_url=base_url,
    )


def read_body(response: httpx.Response, *, max_bytes: int) -> bytes:
    """The body of a streamed response, decoded; raises `BodyTooLarge` past `max_bytes`.

    Reads `response.iter_raw()` and undoes each Content-Encoding in turn, so at most about
    `max_bytes` are ever decoded, however small the compressed body and however many layers.
    """
    layers = [
        name.strip().lower()
        for name in response.headers.get_list("content-encoding", split_commas=True)
        if name.strip() and name.strip().lower() != "identity"
    ]
    raw_size = 0

    def raw() -> Iterator[bytes]:
        nonlocal raw_size
        for chunk in response.iter_raw():
            raw_size += len(chunk)
            if raw_size > max_bytes:
                raise BodyTooLarge(f"more than {max_bytes:,} bytes")
            yield chunk

    stream: Iterator[bytes] = raw()
    # Encodings are listed in the order they were applied: undo the last one first.
    for name in reversed(layers):
        stream = _decoder(name)(stream)
    chunks: list[bytes] = []
    size = 0
    for chunk in stream:
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"more than {max_bytes:,} bytes once decoded")
        chunks.append(chunk)
    return b"".join(chunks)


def _decoder(name: str) -> Callable[[Iterator[bytes]], Iterator[bytes]]:
    if name in ("gzip", "x-gzip"):
        return lambda chunks: _inflate(chunks, zlib.MAX_WBITS | 16, name)
    if name == "deflate":
        return _deflate
    raise UndecodableBody(
        f"it is sent with Content-Encoding {name!r}, which was not asked for "
        f"(we accept {ACCEPT_ENCODING})"
    )


def _deflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate: tell them apart
    # by the zlib header (compression method 8, header checksum a multiple of 31).
    first = b""
    for chunk in chunks:
        first += chunk
        if len(first) >= 2:
            break
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS

    def again() -> Iterator[bytes]:
        if first:
            yield first
        yield from chunks

    return _inflate(again(), wbits, "deflate")


def _inflate(chunks: Iterator[bytes], wbits: int, name: str) -> Iterator[bytes]:
    """Decompress lazily, at most `_OUT_CHUNK` bytes per step; stops at the end of the stream."""
    inflater = zlib.decompressobj(wbits)
    try:
        for chunk in chunks:
            data = chunk
            while True:
                out = inflater.decompress(data, _OUT_CHUNK)
                if out:
                    yield out
                if inflater.eof:
                    return  # anything after the end of the stream is ignored, as httpx does
                data = inflater.unconsumed_tail
                if not data and len(out) < _OUT_CHUNK:
                    break
        tail = inflater.flush()
        if tail:
            yield tail
    except zlib.error as exc:
        raise UndecodableBody(f"its {name} encoding is corrupt ({exc})") from None
