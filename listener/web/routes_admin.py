"""The audit page (everyone signed in) and administration: accounts and a settings view."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.errors import NotAllowed, NotFound
from listener.store import ROLES
from listener.web.auth import hash_password
from listener.web.deps import Admin, Viewer, flash, get_desk
from listener.web.pages import NavLink, render

router = APIRouter()
NAV = [NavLink("Audit", "/audit"), NavLink("Admin", "/admin", "admin")]

_SECRET_WORDS = ("password", "secret", "token", "key", "credential")


@router.get("/audit")
def audit_page(request: Request, user: Viewer, entity: str = "", entity_id: str = "") -> Response:
    desk = get_desk(request)
    records = desk.listener.store.audit(limit=200, entity=entity[:60], entity_id=entity_id[:200])
    rows = [
        {
            "record": r,
            "before": json.dumps(r.before, ensure_ascii=False) if r.before else "",
            "after": json.dumps(r.after, ensure_ascii=False) if r.after else "",
        }
        for r in records
    ]
    return render(request, "audit.html", {"rows": rows, "entity": entity, "entity_id": entity_id})


def redacted_settings(desk_settings: Any, store_url: str) -> dict[str, Any]:
    """Settings as a person may see them: the database URL without password, no secrets.

    Settings only name the environment variables holding secrets (`*_env`), but a value under
    a secret-sounding key is masked anyway in case one was put in the file by mistake.
    """
    raw = desk_settings.model_dump(mode="json")

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, key) for v in value]
        lowered = key.lower()
        if (
            value
            and isinstance(value, str)
            and not lowered.endswith("_env")
            and any(word in lowered for word in _SECRET_WORDS)
        ):
            return "(hidden)"
        return value

    cleaned: dict[str, Any] = clean(raw)
    if isinstance(cleaned.get("database"), dict):
        cleaned["database"]["url"] = store_url
    return cleaned


@router.get("/admin")
def admin_page(request: Request, user: Admin) -> Response:
    desk = get_desk(request)
    accounts = desk.listener.store.users.all()
    settings_view = json.dumps(
        redacted_settings(desk.listener.settings, desk.listener.store.url),
        indent=2,
        ensure_ascii=False,
        default=str,
    )
    return render(
        request,
        "admin.html",
        {"accounts": accounts, "settings_json": settings_view, "roles": ROLES},
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    user: Admin,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form()] = "viewer",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    desk = get_desk(request)
    try:
        password_hash = hash_password(password)
        desk.listener.store.users.add(
            name=name,
            role=role,
            password_hash=password_hash,
            actor=user.name,
            at=desk.listener.clock.now(),
        )
    except NotAllowed as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"User {name.strip()} added as {role}.")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{name}/disabled")
def set_disabled(
    request: Request,
    name: str,
    user: Admin,
    disabled: Annotated[str, Form()] = "true",
) -> Response:
    desk = get_desk(request)
    want = disabled == "true"
    if want and name == user.name:
        flash(request, "error", "you cannot disable your own account")
        return RedirectResponse("/admin", status_code=303)
    try:
        desk.listener.store.users.set_disabled(
            name, want, actor=user.name, at=desk.listener.clock.now()
        )
    except NotFound as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"User {name} {'disabled' if want else 'enabled'}.")
    return RedirectResponse("/admin", status_code=303)
