"""The audit page (everyone signed in) and administration: accounts and a settings view."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.errors import NotAllowed, NotFound
from listener.settings import format_duration
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
    """Settings as a person may see them: what the file and environment set (defaults left
    out), the database URL without password, no secrets.

    Settings only name the environment variables holding secrets (`*_env`), but a value under
    a secret-sounding key is masked anyway in case one was put in the file by mistake.
    """
    raw = desk_settings.model_dump(mode="python", exclude_unset=True, exclude={"base_dir"})
    # Which environment variables hold the secrets is worth seeing even when it is the default.
    full = desk_settings.model_dump(mode="python", exclude={"base_dir"})
    for section, values in full.items():
        if isinstance(values, dict):
            names = {k: v for k, v in values.items() if k.endswith("_env") and v}
            if names:
                raw[section] = {**names, **raw.get(section, {})}
        elif isinstance(values, list) and isinstance(raw.get(section), list):
            for item, shown in zip(values, raw[section], strict=False):
                if isinstance(item, dict) and isinstance(shown, dict):
                    for k, v in item.items():
                        if k.endswith("_env") and v:
                            shown.setdefault(k, v)

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
    cleaned.setdefault("database", {})["url"] = store_url
    return cleaned


def as_toml(settings: dict[str, Any]) -> str:
    """Settings written back as the TOML a person would have typed: sections, arrays of
    tables, durations as "2m" / "4h" (not ISO 8601), secrets already masked."""
    lines: list[str] = []
    scalars = {k: v for k, v in settings.items() if not _is_table(v) and not _is_tables(v)}
    lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items() if v is not None)
    for key, value in settings.items():
        if _is_table(value):
            _table(lines, key, value, array=False)
        elif _is_tables(value):
            for item in value:
                _table(lines, key, item, array=True)
    return "\n".join(lines).strip() + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(lines: list[str], name: str, table: dict[str, Any], *, array: bool) -> None:
    lines.append("")
    lines.append(f"[[{name}]]" if array else f"[{name}]")
    nested = []
    for key, value in table.items():
        if value is None:
            continue
        if _is_table(value) or _is_tables(value):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in nested:
        for item in value if isinstance(value, list) else [value]:
            _table(lines, f"{name}.{key}", item, array=isinstance(value, list))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, time):
        return json.dumps(value.strftime("%H:%M"))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


@router.get("/admin")
def admin_page(request: Request, user: Admin) -> Response:
    desk = get_desk(request)
    accounts = desk.listener.store.users.all()
    settings_view = as_toml(redacted_settings(desk.listener.settings, desk.listener.store.url))
    return render(
        request,
        "admin.html",
        {"accounts": accounts, "settings_toml": settings_view, "roles": ROLES},
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
