"""The queue: pending drafts, most urgent first, and the review actions on each.

Every action works as a plain form POST (redirect back to the queue) and, with htmx, swaps
just the draft's card. The rules of each action live in `listener.outreach.review`; this module only
asks them which buttons to show and maps their refusals to messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.domain import CHANNEL_LIMITS, Draft, DraftStatus, StoredMention
from listener.errors import InvalidTransition, NotAllowed
from listener.outreach.review import ReviewAction, decide
from listener.store import DraftFilter, QueueCursor, WebUser
from listener.web import incident_data
from listener.web.auth import Role, role_of
from listener.web.deps import (
    CATEGORIES,
    LABELS,
    Approver,
    Desk,
    RecordId,
    Viewer,
    flash,
    get_desk,
    record_id_text,
)
from listener.web.pages import NavLink, current_page, is_htmx, local_path, render

router = APIRouter()
NAV = [NavLink("Queue", "/queue")]

STATUSES = [s.value for s in DraftStatus] + ["all"]
SNOOZE_CHOICES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1)}


@dataclass(frozen=True, slots=True)
class QueueFilters:
    brand: str = ""
    source: str = ""
    category: str = ""
    status: str = "pending"
    incident: str = ""
    q: str = ""

    @classmethod
    def from_request(cls, request: Request) -> QueueFilters:
        p = request.query_params
        status = p.get("status", "pending")
        return cls(
            brand=p.get("brand", "")[:200],
            source=p.get("source", "")[:200],
            category=p.get("category", "") if p.get("category", "") in CATEGORIES else "",
            status=status if status in STATUSES else "pending",
            incident=record_id_text(p.get("incident", "")),
            q=p.get("q", "").strip()[:200],
        )

    def params(self) -> dict[str, str]:
        return asdict(self)

    def draft_filter(self) -> DraftFilter:
        return DraftFilter(
            status=self.status,
            brand=self.brand,
            source=self.source,
            category=self.category,
            search=self.q,
        )


@dataclass(frozen=True, slots=True)
class Card:
    """A draft as the queue shows it, with the actions this user may take on it now."""

    draft: Draft
    mention: StoredMention | None
    limit: int
    actions: frozenset[str]
    approve_blocked: str = ""
    notice: str = ""
    notice_kind: str = "ok"


def make_card(
    desk: Desk, user: WebUser, draft: Draft, mention: StoredMention | None, **extra: Any
) -> Card:
    actions: set[str] = set()
    blocked = ""
    if role_of(user).allows(Role.APPROVER):
        probes: dict[ReviewAction, dict[str, Any]] = {
            ReviewAction.EDIT: {"text": draft.text or "x"},
            ReviewAction.APPROVE: {},
            ReviewAction.REJECT: {"reason": "probe"},
            ReviewAction.SNOOZE: {},
        }
        for action, kwargs in probes.items():
            try:
                decide(
                    draft,
                    action,
                    actor=user.name,
                    four_eyes=desk.four_eyes,
                    role=user.role,
                    crisis_four_eyes=desk.listener.settings.outreach.crisis_four_eyes,
                    **kwargs,
                )
            except InvalidTransition:
                continue
            except NotAllowed as exc:
                if action is ReviewAction.APPROVE:
                    blocked = str(exc)
                continue
            actions.add(action.value)
        actions.add("label")
    return Card(
        draft=draft,
        mention=mention,
        limit=CHANNEL_LIMITS[draft.channel],
        actions=frozenset(actions),
        approve_blocked=blocked,
        **extra,
    )


def _card_for(desk: Desk, user: WebUser, draft_id: RecordId, **extra: Any) -> Card:
    draft, mention = desk.listener.store.desk.card(draft_id)
    return make_card(desk, user, draft, mention, **extra)


def _options(desk: Desk) -> dict[str, Any]:
    brands, sources = desk.listener.store.desk.menus()
    return {
        "brands": brands,
        "sources": sources,
        "categories": CATEGORIES,
        "statuses": STATUSES,
        "incidents": incident_data.choices(desk.listener),
    }


@router.get("/queue")
def queue_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    filters = QueueFilters.from_request(request)
    after = QueueCursor.decode(request.query_params.get("after", ""))
    page_size = desk.listener.settings.web.page_size
    incident = int(filters.incident) if filters.incident else None
    items, cursor, total = desk.listener.store.desk.queue_page(
        filters.draft_filter(), after=after, limit=page_size, incident=incident
    )
    cards = [make_card(desk, user, i.draft, i.mention) for i in items]
    return render(
        request,
        "queue.html",
        {
            "cards": cards,
            "filters": filters.params(),
            "total": total,
            "next_cursor": cursor.encode() if cursor else "",
            "first_page": after is None,
            "here": request.url.path + ("?" + request.url.query if request.url.query else ""),
            "snooze_choices": list(SNOOZE_CHOICES),
            "outreach_holds": incident_data.holds_banner(desk.listener),
            **_options(desk),
        },
    )


@router.get("/drafts/{draft_id}")
def draft_page(request: Request, draft_id: RecordId, user: Viewer) -> Response:
    desk = get_desk(request)
    card = _card_for(desk, user, draft_id)
    if is_htmx(request):
        return _card_response(request, card)
    history = desk.listener.store.draft_history(draft_id)
    return render(
        request,
        "draft.html",
        {
            "card": card,
            "history": history,
            "here": f"/drafts/{draft_id}",
            "snooze_choices": list(SNOOZE_CHOICES),
            "categories": CATEGORIES,
        },
    )


@router.get("/drafts/{draft_id}/edit")
def edit_page(
    request: Request, draft_id: RecordId, user: Approver, next: str = "/queue"
) -> Response:
    desk = get_desk(request)
    card = _card_for(desk, user, draft_id)
    context = {"card": card, "text": card.draft.text, "error": "", "next": local_path(next, "")}
    if is_htmx(request):
        return render(request, "_edit_form.html", context)
    return render(request, "edit.html", context)


def _card_response(request: Request, card: Card, status_code: int = 200) -> Response:
    return render(
        request,
        "_card.html",
        {
            "card": card,
            "here": current_page(request),
            "snooze_choices": list(SNOOZE_CHOICES),
            "categories": CATEGORIES,
        },
        status_code=status_code,
    )


def _done(
    request: Request,
    desk: Desk,
    user: WebUser,
    draft_id: RecordId,
    next_path: str,
    message: str,
    kind: str = "ok",
) -> Response:
    if is_htmx(request):
        return _card_response(
            request, _card_for(desk, user, draft_id, notice=message, notice_kind=kind)
        )
    flash(request, kind, message)
    return RedirectResponse(local_path(next_path, "/queue"), status_code=303)


def _review(
    request: Request,
    user: WebUser,
    draft_id: RecordId,
    action: ReviewAction,
    next_path: str,
    done: str,
    **kwargs: Any,
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    try:
        draft = listener.store.review(
            draft_id,
            action,
            actor=user.name,
            at=listener.clock.now(),
            four_eyes=desk.four_eyes,
            role=user.role,
            crisis_four_eyes=listener.settings.outreach.crisis_four_eyes,
            **kwargs,
        )
    except (NotAllowed, InvalidTransition) as exc:
        return _done(request, desk, user, draft_id, next_path, str(exc), "error")
    if action is ReviewAction.APPROVE and draft.status is not DraftStatus.APPROVED:
        done = f"Crisis reply {draft_id}: approved by {user.name}; needs a second crisis approver."
    return _done(request, desk, user, draft_id, next_path, done)


NextField = Annotated[str, Form()]


@router.post("/drafts/{draft_id}/approve")
def approve(request: Request, draft_id: RecordId, user: Approver, next: NextField = "") -> Response:
    return _review(
        request, user, draft_id, ReviewAction.APPROVE, next, f"Draft {draft_id} approved."
    )


@router.post("/drafts/{draft_id}/reject")
def reject(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    reason: Annotated[str, Form(max_length=2000)] = "",
    next: NextField = "",
) -> Response:
    return _review(
        request,
        user,
        draft_id,
        ReviewAction.REJECT,
        next,
        f"Draft {draft_id} rejected.",
        reason=reason,
    )


@router.post("/drafts/{draft_id}/snooze")
def snooze(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    duration: Annotated[str, Form()] = "4h",
    next: NextField = "",
) -> Response:
    delta = SNOOZE_CHOICES.get(duration, SNOOZE_CHOICES["4h"])
    until = get_desk(request).listener.clock.now() + delta
    return _review(
        request,
        user,
        draft_id,
        ReviewAction.SNOOZE,
        next,
        f"Draft {draft_id} snoozed for {duration}.",
        snooze_until=until,
    )


@router.post("/drafts/{draft_id}/edit")
def edit(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    text: Annotated[str, Form(max_length=20_000)] = "",
    next: NextField = "",
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    # Browsers send a textarea's line breaks as CRLF; count and store them as one character.
    text = text.replace("\r\n", "\n")
    try:
        listener.store.review(
            draft_id,
            ReviewAction.EDIT,
            actor=user.name,
            at=listener.clock.now(),
            four_eyes=desk.four_eyes,
            text=text,
            reply_names=listener.settings.reply_names_by_brand(),
        )
    except (NotAllowed, InvalidTransition) as exc:
        card = _card_for(desk, user, draft_id)
        context = {"card": card, "text": text, "error": str(exc), "next": local_path(next, "")}
        template = "_edit_form.html" if is_htmx(request) else "edit.html"
        return render(request, template, context, status_code=200 if is_htmx(request) else 422)
    return _done(request, desk, user, draft_id, next, f"Draft {draft_id} edited.")


@router.post("/drafts/{draft_id}/category")
def reassign_category(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    category: Annotated[str, Form()] = "",
    next: NextField = "",
) -> Response:
    desk = get_desk(request)
    draft = desk.listener.store.draft(draft_id)
    try:
        desk.listener.store.add_label(
            draft.mention_id, "category", category, actor=user.name, at=desk.listener.clock.now()
        )
    except NotAllowed as exc:
        return _done(request, desk, user, draft_id, next, str(exc), "error")
    return _done(request, desk, user, draft_id, next, f"Category set to {category}.")


@router.post("/drafts/{draft_id}/label")
def label(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    label: Annotated[str, Form()] = "",
    next: NextField = "",
) -> Response:
    desk = get_desk(request)
    draft = desk.listener.store.draft(draft_id)
    if label not in LABELS:
        return _done(request, desk, user, draft_id, next, f"unknown label {label!r}", "error")
    kind, value = LABELS[label]
    desk.listener.store.add_label(
        draft.mention_id, kind, value, actor=user.name, at=desk.listener.clock.now()
    )
    words = {"not_about_us": "not about us", "not_unhappy": "not unhappy"}[label]
    return _done(request, desk, user, draft_id, next, f"Marked {words}.")
