"""Signing in and out: argon2-checked passwords, a fresh session, limited failed attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.web.auth import verify_password
from listener.web.deps import check_csrf, get_desk, session_user
from listener.web.pages import local_path, render

router = APIRouter()


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str = "/queue") -> Response:
    if session_user(request) is not None:
        return RedirectResponse(local_path(next, "/queue"), status_code=303)
    return render(request, "login.html", {"next": local_path(next, "/queue"), "error": ""})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    await check_csrf(request)
    desk = get_desk(request)
    name = username.strip()
    address = _client(request)
    target = local_path(next, "/queue")
    wait = desk.limiter.retry_after(name, address)
    if wait:
        minutes = max(int(wait // 60), 1)
        message = f"Too many failed sign-ins. Try again in about {minutes} minute(s)."
        context = {"next": target, "error": message}
        return render(request, "login.html", context, status_code=429)
    user = desk.listener.store.users.by_name(name) if name else None
    ok = verify_password(user.password_hash if user else None, password)
    now = desk.listener.clock.now()
    if not ok or user is None or user.disabled:
        desk.limiter.failed(name, address)
        desk.listener.store.users.record_sign_in(name, ok=False, address=address, at=now)
        context = {"next": target, "error": "Wrong user name or password."}
        return render(request, "login.html", context, status_code=401)
    desk.limiter.succeeded(name, address)
    desk.listener.store.users.record_sign_in(user.name, ok=True, address=address, at=now)
    # A new session on sign-in (fresh CSRF token): nothing planted before it carries over.
    request.session.clear()
    request.session["user"] = user.name
    request.session["epoch"] = user.session_epoch
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: ends this account's sessions on the server, not only this browser's cookie.

    A signed cookie cannot be taken back, so a copy of it (from a shared machine, a proxy log)
    would go on working until it expires; moving the account's session epoch on makes every
    cookie issued to it so far invalid. Other browsers the person is signed in on sign out too.
    """
    await check_csrf(request)
    user = session_user(request)
    if user is not None:
        desk = get_desk(request)
        desk.listener.store.users.end_sessions(
            user.name, actor=user.name, at=desk.listener.clock.now(), why="user.logout"
        )
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
