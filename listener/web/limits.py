"""Request bodies are refused past a size limit as they stream in, before anything reads them.

Starlette reads a urlencoded form or a JSON body whole into memory, and FastAPI does so before
the route's dependencies (sign-in, the API token) run: an unauthenticated 100 MB POST to
`/api/...` or `/login` would be held in memory first and refused after. `BodyLimit` sits
outside everything else: a declared Content-Length over the limit is answered 413 without
reading a byte, and a body sent without one (chunked) is counted as it arrives and cut off
with 413 as soon as it passes the limit.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SIGN_IN_BODY_BYTES", "BodyLimit"]

# The sign-in and sign-out forms carry a name, a password (at most 1,000 characters), a
# CSRF token and a path: 16 KB is ample, and they are open to anyone.
SIGN_IN_BODY_BYTES = 16_384
_OPEN_PATHS = ("/login", "/logout")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a request body over `max_bytes` (`SIGN_IN_BODY_BYTES` on the open forms)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit_for(self, path: str) -> int:
        return SIGN_IN_BODY_BYTES if path in _OPEN_PATHS else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit, scope)
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app made of the cut-off body; the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if exceeded and not started:
            await _refuse(send, limit, scope)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed length is the server's to refuse (uvicorn answers 400).
            if not text.isdigit():
                return None
            return int(text) if len(text) <= 18 else 10**18
    return None


async def _refuse(send: Send, limit: int, scope: Scope) -> None:
    message = f"the request body is larger than {limit:,} bytes; it was not read"
    if str(scope.get("path", "")).startswith("/api/"):
        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        body = message.encode()
        kind = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
