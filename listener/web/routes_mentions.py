"""The mentions feed: everything heard, newest first, with the queue's filters and labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.errors import NotAllowed
from listener.scoring.language import language_choices, language_filter
from listener.store import FeedCursor, MentionFilter
from listener.web import incident_data
from listener.web.deps import (
    CATEGORIES,
    LABELS,
    Approver,
    RecordId,
    Viewer,
    flash,
    get_desk,
    record_id_text,
)
from listener.web.pages import NavLink, local_path, render

router = APIRouter()
NAV = [NavLink("Mentions", "/mentions")]


@dataclass(frozen=True, slots=True)
class FeedFilters:
    brand: str = ""
    source: str = ""
    category: str = ""
    mood: str = ""
    incident: str = ""
    q: str = ""
    lang: str = ""

    @classmethod
    def from_request(cls, request: Request) -> FeedFilters:
        p = request.query_params
        return cls(
            brand=p.get("brand", "")[:200],
            source=p.get("source", "")[:200],
            category=p.get("category", "") if p.get("category", "") in CATEGORIES else "",
            mood=p.get("mood", "") if p.get("mood", "") in ("unhappy", "ok") else "",
            incident=record_id_text(p.get("incident", "")),
            q=p.get("q", "").strip()[:200],
            lang=language_filter(p.get("lang", "")),
        )

    def mention_filter(self) -> MentionFilter:
        mood = {"unhappy": True, "ok": False}.get(self.mood)
        return MentionFilter(
            brand=self.brand,
            source=self.source,
            category=self.category,
            dissatisfied=mood,
            search=self.q,
            lang=self.lang,
        )


@router.get("/mentions")
def mentions_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    filters = FeedFilters.from_request(request)
    before = FeedCursor.decode(request.query_params.get("before", ""))
    incident = int(filters.incident) if filters.incident else None
    found, cursor, drafts = desk.listener.store.desk.feed_page(
        filters.mention_filter(),
        before=before,
        limit=desk.listener.settings.web.page_size,
        incident=incident,
    )
    brands, sources = desk.listener.store.desk.menus()
    return render(
        request,
        "mentions.html",
        {
            "mentions": found,
            "drafts": drafts,
            "filters": asdict(filters),
            "next_cursor": cursor.encode() if cursor else "",
            "first_page": before is None,
            "here": request.url.path + ("?" + request.url.query if request.url.query else ""),
            "brands": brands,
            "sources": sources,
            "categories": CATEGORIES,
            "languages": language_choices(),
            "statuses": [],
            "incidents": incident_data.choices(desk.listener),
        },
    )


@router.post("/mentions/{mention_id}/label")
def label_mention(
    request: Request,
    mention_id: RecordId,
    user: Approver,
    label: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Set the category, or mark a mention "not about us" / "not unhappy"."""
    desk = get_desk(request)
    listener = desk.listener
    if label == "category":
        kind, value = "category", category
    elif label in LABELS:
        kind, value = LABELS[label]
    else:
        flash(request, "error", f"unknown label {label!r}")
        return RedirectResponse(local_path(next, "/mentions"), status_code=303)
    try:
        listener.store.add_label(mention_id, kind, value, actor=user.name, at=listener.clock.now())
    except NotAllowed as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"Mention {mention_id} labelled.")
    return RedirectResponse(local_path(next, "/mentions"), status_code=303)
