"""The review desk under attack: stolen cookies, forged addresses, impossible ids, huge bodies.

A real uvicorn server on 127.0.0.1 (tests/web/test_web.py's `start_desk`), httpx or a raw socket as
the attacker. Bodies are also pushed through the in-process app to count how much of them the
app was handed before it refused.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from listener.store import users
from listener.web.app import ROUTER_MODULES, create_app
from listener.web.auth import hash_password
from listener.web.limits import SIGN_IN_BODY_BYTES
from tests.support.web import PASSWORD, csrf_from, seeded_listener
from tests.web.test_web import Desk, start_desk
from tests.web.test_web_api import token_for


@pytest.fixture
def desk(make_settings: Callable[..., Any], db_url: str) -> Iterator[Desk]:
    settings = make_settings(database={"url": db_url}, scoring={"model": "lexicon"})
    yield from start_desk(seeded_listener(settings))


@pytest.fixture
def proxied_desk(make_settings: Callable[..., Any]) -> Iterator[Desk]:
    settings = make_settings(scoring={"model": "lexicon"}, web={"trusted_proxies": ["127.0.0.1"]})
    yield from start_desk(seeded_listener(settings))


# sessions end on sign-out -------------------------------------------------------------------


def test_a_copied_session_cookie_stops_working_after_sign_out(desk: Desk) -> None:
    browser = desk.signed_in("ann")
    assert browser.get("/queue").status_code == 200
    stolen = dict(browser.cookies)
    elsewhere = desk.signed_in("ann")  # the same person on another machine
    token = csrf_from(browser.get("/queue").text)
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303

    thief = desk.client()
    thief.cookies.update(stolen)
    replay = thief.get("/queue")
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
    # Signing out ends the account's sessions everywhere, as the docs say.
    assert elsewhere.get("/queue").status_code == 303
    assert desk.listener.store.audit(limit=1)[0].action == "user.logout"
    # Signing in again works, and only the new cookie does.
    again = desk.signed_in("ann")
    assert again.get("/queue").status_code == 200
    assert thief.get("/queue").status_code == 303


def test_a_new_password_ends_the_old_sessions(desk: Desk) -> None:
    browser = desk.signed_in("bob")
    with desk.listener.store._write() as conn:
        users.set_password_hash(
            conn,
            "bob",
            hash_password("another long pass"),
            actor="ada",
            at=desk.listener.clock.now(),
        )
    assert browser.get("/queue").status_code == 303


# the sign-in limit and forwarded addresses ---------------------------------------------------


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(desk: Desk) -> None:
    client = desk.client()
    for n in range(12):
        token = csrf_from(client.get("/login").text)
        wrong = client.post(
            "/login",
            data={"username": "ann", "password": f"guess {n}", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        assert wrong.status_code in (401, 429)
    token = csrf_from(client.get("/login").text)
    right = client.post(
        "/login",
        data={"username": "ann", "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert right.status_code == 429
    failures = [r for r in desk.listener.store.audit(limit=50) if r.action == "user.login_failed"]
    assert {r.after["address"] for r in failures if r.after} == {"127.0.0.1"}


def test_a_trusted_proxy_names_the_client(proxied_desk: Desk) -> None:
    client = proxied_desk.client()

    def attempt(password: str, address: str) -> int:
        token = csrf_from(client.get("/login").text)
        return client.post(
            "/login",
            data={"username": "ann", "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": address},
        ).status_code

    for _ in range(5):
        assert attempt("guess", "203.0.113.9") == 401
    assert attempt(PASSWORD, "203.0.113.9") == 429
    assert attempt(PASSWORD, "198.51.100.7") == 303


def test_trusted_proxies_must_be_addresses(make_settings: Callable[..., Any]) -> None:
    from listener.errors import SettingsError

    with pytest.raises((SettingsError, ValueError), match="not an IP address"):
        make_settings(web={"trusted_proxies": ["proxy.example"]})


# impossible ids -----------------------------------------------------------------------------

HOSTILE_IDS = [str(2**63), str(2**64), str(2**63 - 1), str(2**31), "-1", "0", "9" * 40, "²", "١٢"]


def _id_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the desk's routers with an id in the path."""
    found = []
    routes = [
        route
        for name in ROUTER_MODULES
        for route in importlib.import_module(f"listener.web.{name}").router.routes
    ]
    for route in routes:
        path, methods = getattr(route, "path", ""), getattr(route, "methods", None)
        if methods and re.search(r"\{\w+_id\}", path):
            for method in sorted(methods):
                if method != "HEAD":
                    found.append((method, path))
    return found


def test_ids_no_record_can_have_answer_404_or_422_on_every_route(desk: Desk) -> None:
    routes = _id_routes()
    assert len(routes) >= 20, routes
    page = desk.signed_in("ada")
    token = csrf_from(page.get("/queue").text)
    api = httpx.Client(
        base_url=desk.server.url,
        timeout=10,
        headers={"Authorization": f"Bearer {token_for(desk.listener, 'ada')}"},
    )
    desk.clients.append(api)
    problems = []
    for method, path in routes:
        client = api if path.startswith("/api/") else page
        for value in HOSTILE_IDS:
            url = re.sub(r"\{\w+_id\}", value, path)
            response = client.request(
                method, url, headers={"X-CSRF-Token": token}, data={"csrf_token": token}
            )
            if response.status_code not in (404, 422):
                problems.append(f"{method} {url}: {response.status_code}")
    assert not problems, problems


@pytest.mark.parametrize("path", ["/api/drafts", "/api/mentions", "/queue", "/mentions"])
def test_a_huge_number_in_a_query_is_not_a_server_error(desk: Desk, path: str) -> None:
    client = desk.signed_in("ada")
    client.headers["Authorization"] = f"Bearer {token_for(desk.listener, 'ada')}"
    for value in ("9" * 40, str(2**63), str(2**31), "-5", "²"):
        response = client.get(path, params={"incident": value})
        assert response.status_code < 500, (value, response.status_code, response.text[:200])


# request bodies -----------------------------------------------------------------------------


def _raw_post(url: str, path: str, length: int, headers: str = "") -> bytes:
    """Send only the headers of a POST declaring `length` bytes; return what the server says."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


@pytest.mark.parametrize("path", ["/api/drafts/1/reject", "/login", "/queue/1/approve"])
def test_a_declared_huge_body_is_refused_before_a_byte_is_read(desk: Desk, path: str) -> None:
    answer = _raw_post(desk.server.url, path, 100 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


async def _stream(size: int, chunk: int = 65536) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        yield b"a" * chunk
        sent += chunk


class CountingApp:
    """Passes requests to the desk and counts the body bytes the desk asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/login", SIGN_IN_BODY_BYTES), ("/api/drafts/1/reject", 1_000_000)],
)
def test_a_streamed_body_is_cut_off_at_the_limit(
    make_settings: Callable[..., Any], path: str, limit: int
) -> None:
    listener = seeded_listener(make_settings(scoring={"model": "lexicon"}))
    try:
        app = CountingApp(create_app(listener, environ={}))

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
                return await client.post(
                    path,
                    content=_stream(20 * 1024 * 1024),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )

        response = asyncio.run(post())
    finally:
        listener.close()
    assert response.status_code == 413
    assert app.read <= limit + 65536, f"the desk read {app.read:,} bytes"


def test_the_body_limit_is_a_setting(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(scoring={"model": "lexicon"}, web={"max_body_bytes": 50_000})
    listener = seeded_listener(settings)
    add = users.add_user
    with listener.store._write() as conn:
        add(conn, name="ada", role="admin", password_hash="x", actor="t", at=listener.clock.now())
    token = token_for(listener, "ada")
    try:
        app = create_app(listener, environ={})

        async def post(size: int) -> int:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
                response = await client.post(
                    "/api/drafts/1/reject",
                    json={"reason": "x" * size},
                    headers={"Authorization": f"Bearer {token}"},
                )
                return response.status_code

        assert asyncio.run(post(60_000)) == 413
        assert asyncio.run(post(1_000)) != 413
    finally:
        listener.close()
