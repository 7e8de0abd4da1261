"""The one seam between tweepy and the network: where X API requests go, and how long they wait.

tweepy's v2 `Client` builds every URL as ``"https://api.twitter.com" + route`` and sends it with
no timeout at all. Mounting `ApiUrlAdapter` on the client's `requests.Session` fixes both without
patching tweepy: requests for ``https://api.twitter.com`` are sent to the configured `api_url`
(same path and query) and get a default timeout. Production and tests go through the same code;
with the default `api_url` nothing is rewritten.

requests' timeouts are per operation, like httpx's: a server that drips its headers a byte at a
time never trips them. So the adapter also holds each request, body included, to one
wall-clock deadline (the same `timeout`): a watchdog shuts the connection's socket when it
passes, and the request fails as a `requests.Timeout`. The body is read inside that deadline
and refused past `MAX_RESPONSE_BYTES` once decoded. The X search source uses it, and so does the
reply publisher (user-context OAuth 1.0a), which is why it lives in its own module.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["TWEEPY_API_HOST", "ApiUrlAdapter", "attach_api_url"]

# The host tweepy hard-codes into every v2 request.
TWEEPY_API_HOST = "https://api.twitter.com"
# X's answers are a few hundred kB at most (100 posts with their expansions).
MAX_RESPONSE_BYTES = 10_000_000


class _Watched(threading.local):
    """The connections the current thread's request has used, for the watchdog to cut."""

    def __init__(self) -> None:
        self.connections: list[Any] | None = None


_WATCHED = _Watched()


class _WatchedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        if _WATCHED.connections is not None:
            _WATCHED.connections.append(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        if _WATCHED.connections is not None:
            _WATCHED.connections.append(conn)
        return super()._make_request(conn, *args, **kwargs)


def _cut(connections: list[Any], fired: threading.Event) -> None:
    fired.set()
    for conn in list(connections):
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ApiUrlAdapter(HTTPAdapter):
    """Sends requests made for `TWEEPY_API_HOST` to `api_url` instead, with a default timeout.

    A timeout given by the caller wins; tweepy never gives one, so in practice every request
    waits at most `timeout` seconds to connect and `timeout` seconds between bytes.
    """

    def __init__(self, api_url: str, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Pools that tell the watchdog which connection a request is on.
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        if self.api_url != TWEEPY_API_HOST and url.startswith(TWEEPY_API_HOST):
            request.url = self.api_url + url[len(TWEEPY_API_HOST) :]
            # The session chose proxies for api.twitter.com; choose again for the real host so
            # NO_PROXY (e.g. for a staging server on the LAN) is honoured.
            kwargs["proxies"] = get_environ_proxies(request.url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        stream = bool(kwargs.pop("stream", False))
        fired = threading.Event()
        connections: list[Any] = []
        watchdog = threading.Timer(self.timeout, _cut, args=(connections, fired))
        watchdog.daemon = True
        _WATCHED.connections = connections
        watchdog.start()
        try:
            response = super().send(request, stream=True, **kwargs)
            if not stream:
                response._content = _read_capped(response)
                response._content_consumed = True  # type: ignore[attr-defined]
        except requests.RequestException as exc:
            # Cut before a request went out (still connecting): the error as it is, so a
            # caller can tell "never sent" from "sent, no answer".
            if fired.is_set() and connections and not isinstance(exc, requests.ConnectTimeout):
                raise requests.Timeout(
                    f"no complete answer within {self.timeout:g}s", request=request
                ) from exc
            raise
        finally:
            watchdog.cancel()
            _WATCHED.connections = None
        if fired.is_set() and not stream:
            # Cut off where the body's end could not be told from a close: not an answer.
            raise requests.Timeout(f"no complete answer within {self.timeout:g}s", request=request)
        return response


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise requests.RequestException(
                f"the answer is larger than {MAX_RESPONSE_BYTES:,} bytes; refused",
                response=response,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def attach_api_url(
    session: requests.Session, api_url: str, timeout: float | timedelta
) -> ApiUrlAdapter:
    """Route `session`'s X API requests to `api_url` with a default `timeout`; returns the adapter.

    Call it on ``client.session`` right after building a `tweepy.Client`.
    """
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"api_url must start with http:// or https://, got {api_url!r}")
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    adapter = ApiUrlAdapter(api_url, seconds)
    session.mount(TWEEPY_API_HOST, adapter)
    return adapter
