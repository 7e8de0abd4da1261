"""Request dependencies shared by the routers: the desk, the signed-in user, roles and CSRF."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from jinja2 import Environment
from starlette.templating import Jinja2Templates

from listener.app import Listener
from listener.domain import Category
from listener.store import WebUser
from listener.web.auth import LoginLimiter, Role, csrf_matches, new_csrf_token, role_of, token_hash
from listener.web.pages import NavLink

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Desk:
    """What every request handler needs, built once by `create_app`."""

    listener: Listener
    templates: Jinja2Templates
    limiter: LoginLimiter
    nav: list[NavLink] = field(default_factory=list)

    @property
    def four_eyes(self) -> bool:
        return self.listener.settings.outreach.four_eyes

    @property
    def jinja(self) -> Environment:
        return self.templates.env


class SignInRequired(Exception):
    """The page needs a signed-in user; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """The signed-in user's role does not allow this; the app answers 403."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(Exception):
    """An API call without a valid token; the app answers 401."""


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def session_user(request: Request) -> WebUser | None:
    """The signed-in user, re-read on every request so a disabled account stops at once.

    The cookie also carries the account's session epoch from sign-in; signing out (or a new
    password) moves the stored epoch on, so a copy of the cookie kept from before stops
    working although its signature is still valid.
    """
    name = request.session.get("user")
    if not isinstance(name, str) or not name:
        return None
    desk = get_desk(request)
    user = desk.listener.store.users.by_name(name)
    epoch = request.session.get("epoch")
    if user is None or user.disabled or epoch != user.session_epoch:
        request.session.pop("user", None)
        request.session.pop("epoch", None)
        return None
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def requires(role: Role) -> Callable[[Request], Coroutine[Any, Any, WebUser]]:
    """A page dependency: a signed-in user with at least `role`; POSTs must carry the CSRF token.

    The CSRF check runs before the role check and before any handler, so a forged POST is
    refused whoever's browser sends it.
    """

    async def dependency(request: Request) -> WebUser:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            await check_csrf(request)
        user = session_user(request)
        if user is None:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            raise SignInRequired(target if request.method == "GET" else "/queue")
        if not role_of(user).allows(role):
            raise Forbidden(f"this needs the {role.value} role; {user.name} is {user.role}")
        request.state.user = user
        return user

    return dependency


async def check_csrf(request: Request) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_matches(request.session.get("csrf"), given):
        raise Forbidden("the form has expired or did not come from this site; reload the page")


def api_requires(role: Role) -> Callable[[Request], Coroutine[Any, Any, WebUser]]:
    """An API dependency: `Authorization: Bearer <token>` of a user with at least `role`.

    Cookies are ignored here, so the API needs no CSRF token and a page session cannot be
    turned against it.
    """

    async def dependency(request: Request) -> WebUser:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized()
        desk = get_desk(request)
        user = desk.listener.store.users.by_token_hash(token_hash(token.strip()))
        if user is None or user.disabled:
            raise Unauthorized()
        if not role_of(user).allows(role):
            raise Forbidden(f"this needs the {role.value} role; {user.name} is {user.role}")
        return user

    return dependency


def page_context(request: Request) -> dict[str, Any]:
    desk = get_desk(request)
    user: WebUser | None = getattr(request.state, "user", None)
    if user is None and "user" in request.session:
        user = session_user(request)
    role = role_of(user) if user else None
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    return {
        "user": user,
        "role": role.value if role else "",
        "can_review": bool(role and role.allows(Role.APPROVER)),
        "can_crisis": bool(role and role.allows(Role.CRISIS)),
        "is_admin": bool(role and role.allows(Role.ADMIN)),
        "csrf_token": csrf_token(request),
        "nav": [n for n in desk.nav if role and role.allows(Role(n.role))],
        "path": request.url.path,
        "flashes": flashes,
    }


def flash(request: Request, kind: str, message: str) -> None:
    messages = list(request.session.get("flash", []))
    # The session is a signed cookie (about 4 kB at most): keep messages few and short.
    messages.append([kind, message[:300]])
    request.session["flash"] = messages[-3:]


# The largest id a record can have: ids are the database's 4-byte integers on PostgreSQL.
MAX_RECORD_ID = 2**31 - 1
# A record id in a path: anything else (negative, zero, 2**63, a hundred digits) is a 404.
RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID)]


def record_id_text(value: str) -> str:
    """`value` if it is an id a record can have (ASCII digits, 1..MAX_RECORD_ID), else ''."""
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return ""
    return value if 0 < int(value) <= MAX_RECORD_ID else ""


# Route parameters that sign in and check a role; declared once for every router.
Viewer = Annotated[WebUser, Depends(requires(Role.VIEWER))]
Approver = Annotated[WebUser, Depends(requires(Role.APPROVER))]
Crisis = Annotated[WebUser, Depends(requires(Role.CRISIS))]
Admin = Annotated[WebUser, Depends(requires(Role.ADMIN))]

CATEGORIES = [c.value for c in Category]
# The desk's label buttons and the (kind, value) each records with Store.add_label.
LABELS = {"not_about_us": ("not_about_us", "true"), "not_unhappy": ("dissatisfied", "false")}
