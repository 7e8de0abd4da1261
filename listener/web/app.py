"""The review desk application: `create_app(listener)` builds it, routers add the pages.

Each page family is one router module exposing `router` (and optionally `NAV`, its header
links). `ROUTER_MODULES` lists them; another area adds its pages by adding its module's name
here (e.g. "routes_outreach"), or by passing `routers=` to `create_app`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from listener.app import Listener
from listener.domain import StoredMention
from listener.errors import InvalidTransition, NotAllowed, NotFound
from listener.outreach.news import is_news_article
from listener.web.auth import LoginLimiter, session_secret
from listener.web.deps import Desk, Forbidden, SignInRequired, Unauthorized
from listener.web.limits import BodyLimit
from listener.web.pages import NavLink, make_templates, render, template_dirs
from listener.web.wording import Verdict, verdict

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "listener_session"
SESSION_MAX_AGE = 12 * 3600

ROUTER_MODULES: list[str] = [
    "routes_auth",
    "routes_queue",
    "routes_mentions",
    "routes_incidents",
    "routes_statements",
    "routes_overview",
    "routes_admin",
    "routes_api",
    "routes_outreach",
    "routes_ops",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the security headers to every response; pages are also never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                ]
                headers.extend(SECURITY_HEADERS)
                if not is_static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _routers(names: Sequence[str]) -> list[tuple[APIRouter, list[NavLink]]]:
    found = []
    for name in names:
        module = importlib.import_module(f"listener.web.{name}")
        found.append((module.router, list(getattr(module, "NAV", []))))
    return found


def mention_verdict(news_domains: Sequence[str], stored: StoredMention) -> Verdict:
    """The card's plain verdict on a stored mention (news articles named as such)."""
    news = is_news_article(stored.mention, stored.score, news_domains)
    return verdict(stored.mention, stored.score, news_article=news)


def create_app(
    listener: Listener,
    *,
    environ: Mapping[str, str] | None = None,
    routers: Sequence[tuple[APIRouter, Sequence[NavLink]]] = (),
    limiter: LoginLimiter | None = None,
) -> FastAPI:
    """The review desk for `listener`; `routers` adds (router, header links) pairs."""
    env = dict(os.environ if environ is None else environ)
    settings = listener.settings
    app = FastAPI(
        title="listener review desk",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    desk = Desk(
        listener=listener,
        templates=make_templates(template_dirs(settings.templates_override())),
        limiter=limiter or LoginLimiter(),
    )
    app.state.desk = desk
    desk.jinja.globals["warn_promotional"] = settings.outreach.warn_promotional
    desk.jinja.globals["verdict"] = partial(mention_verdict, settings.incidents.news_domains)
    for router, nav in [*_routers(ROUTER_MODULES), *routers]:
        app.include_router(router)
        desk.nav.extend(nav)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(listener, env),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.web.public_url.startswith("https://"),
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: a body too large is refused before sessions or routes see the request.
    app.add_middleware(BodyLimit, max_bytes=settings.web.max_body_bytes)
    if settings.web.trusted_proxies:
        # Only these peers may say who the client is (X-Forwarded-For); anyone else's
        # header is ignored, so the sign-in limit cannot be dodged by inventing addresses.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.web.trusted_proxies)
    _install_error_pages(app)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_error_pages(app: FastAPI) -> None:
    def error(request: Request, status: int, message: str) -> Response:
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=status)
        return render(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        from urllib.parse import urlencode

        return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        return JSONResponse(
            {"error": "send a valid API token as 'Authorization: Bearer <token>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error(request, 403, exc.message)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(InvalidTransition)
    async def conflict(request: Request, exc: InvalidTransition) -> Response:
        return error(request, 409, str(exc))

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return error(request, 403, str(exc))

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Any) -> Response:
        return error(request, 404, "there is no such page")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # An id in the path that no record can have (negative, zero, past the database's
        # integers) names nothing: 404, as for an id that does not exist.
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return error(request, 404, "there is no such page")
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "the request"
        return error(request, 422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        # A number too large for the database or the calendar (e.g. ?incident=10**30).
        return error(request, 422, "a number in the request is out of range")
