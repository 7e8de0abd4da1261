"""Rendering pages: one Jinja2 environment with autoescape on, and the filters pages use.

Everything a mention carries (text, author, links) is untrusted. Autoescape is on for every
template, no template ever marks such text safe, and links leave only with an http(s) scheme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from listener.outreach.templates import search_path
from listener.outreach.tone import promotional_phrases
from listener.web.wording import channel_text, duration_text, reach_text, trigger_text


@dataclass(frozen=True, slots=True)
class NavLink:
    """An entry in the page header; shown to users whose role allows `role`."""

    label: str
    path: str
    role: str = "viewer"


def template_dirs(override: Path | None = None) -> list[str]:
    """The desk's page templates: `<outreach.templates_dir>/web` first, then the built-in."""
    return [str(p) for p in search_path(override, "web")]


def make_templates(dirs: Sequence[str]) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(list(dirs)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["http_href"] = http_href
    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["pct"] = pct
    env.filters["capped"] = capped
    env.filters["duration"] = duration_text
    env.filters["channel"] = channel_text
    env.filters["trigger"] = trigger_text
    env.filters["reach"] = reach_text
    env.filters["promotional"] = promotional_phrases
    env.globals["query"] = query_string
    return Jinja2Templates(env=env)


def http_href(url: object) -> str:
    """The URL if it is a plain http(s) link, else "" (no javascript:, data:, relative tricks)."""
    if not isinstance(url, str) or not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return url.strip()


def when(value: datetime | str | None) -> str:
    """A moment as people read it; ISO strings (from JSON history records) are accepted."""
    if isinstance(value, str):
        try:
            moment: datetime | None = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def number(value: int | float | None) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,}"


def pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def capped(count: int, cap: int = 1000) -> str:
    return f"{cap:,}+" if count > cap else f"{count:,}"


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """The current filters with some changed, as '?a=b' (empty values left out)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in ("", None)}
    return "?" + urlencode(kept) if kept else "?"


def local_path(target: str | None, default: str) -> str:
    """Where to go back to after a form: only a path on this site, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def current_page(request: Request, default: str = "/queue") -> str:
    """The page an htmx request came from (path and query), for the forms it re-renders."""
    try:
        parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    except ValueError:  # a header no parser reads ("http://[::1") is no page to go back to
        return default
    path = parts.path + ("?" + parts.query if parts.query else "")
    return local_path(path, default)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    from listener.web.deps import page_context

    templates: Jinja2Templates = request.app.state.desk.templates
    return templates.TemplateResponse(
        request, name, {**page_context(request), **context}, status_code=status_code
    )
