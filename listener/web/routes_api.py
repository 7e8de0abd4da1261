"""The JSON API: the queue's reads and review actions for other tools, with bearer tokens.

Same roles and the same audit as the pages (the actor is the token's user). Errors are
`{"error": "..."}` with 401 (no or bad token), 403 (role, four-eyes), 404, 409 (the draft is
not in a state that allows it, or changed meanwhile) and 422 (bad input).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from listener.domain import DraftStatus, utc
from listener.errors import NotAllowed
from listener.outreach.review import ReviewAction, check_text
from listener.scoring.language import language_filter
from listener.settings import parse_duration
from listener.store import (
    DraftFilter,
    FeedCursor,
    MentionFilter,
    QueueCursor,
    WebUser,
    stored_as_dict,
)
from listener.web import incident_data
from listener.web.auth import Role
from listener.web.deps import CATEGORIES, MAX_RECORD_ID, RecordId, api_requires, get_desk

router = APIRouter(prefix="/api")

ApiViewer = Annotated[WebUser, Depends(api_requires(Role.VIEWER))]
ApiApprover = Annotated[WebUser, Depends(api_requires(Role.APPROVER))]
ApiCrisis = Annotated[WebUser, Depends(api_requires(Role.CRISIS))]
STATUSES = [s.value for s in DraftStatus] + ["all"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RejectBody(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class EditBody(_Body):
    text: str = Field(max_length=20_000)


class SnoozeBody(_Body):
    duration: str | None = Field(default=None, alias="for")
    until: datetime | None = None


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=422)


def _draft_json(request: Request, draft_id: RecordId, *, history: bool = False) -> dict[str, Any]:
    store = get_desk(request).listener.store
    draft = store.draft(draft_id)
    mention = store.mentions_by_ids([draft.mention_id]).get(draft.mention_id)
    body: dict[str, Any] = {
        **draft.as_dict(),
        "mention": stored_as_dict(mention) if mention else None,
    }
    if history:
        body["history"] = store.draft_history(draft_id)
    return body


@router.get("/queue")
def api_queue(
    request: Request,
    user: ApiViewer,
    status: Annotated[str, Query()] = "pending",
    brand: str = "",
    source: str = "",
    category: str = "",
    q: Annotated[str, Query(max_length=200)] = "",
    incident: Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID)] = None,
    after: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """Drafts, most urgent first; pass `next` back as `after` for the following page."""
    if status not in STATUSES:
        return _unprocessable(f"status {status!r} is unknown; expected one of {STATUSES}")
    if category and category not in CATEGORIES:
        return _unprocessable(f"category {category!r} is unknown; expected one of {CATEGORIES}")
    desk = get_desk(request)
    f = DraftFilter(status=status, brand=brand, source=source, category=category, search=q)
    items, cursor, count = desk.listener.store.desk.queue_page(
        f,
        after=QueueCursor.decode(after) if after else None,
        limit=limit,
        incident=incident,
    )
    return JSONResponse(
        {
            "items": [
                {**i.draft.as_dict(), "mention": stored_as_dict(i.mention) if i.mention else None}
                for i in items
            ],
            "next": cursor.encode() if cursor else None,
            "count": min(count, desk.listener.store.desk.COUNT_CAP),
            "count_is_lower_bound": count > desk.listener.store.desk.COUNT_CAP,
        }
    )


@router.get("/drafts/{draft_id}")
def api_draft(request: Request, draft_id: RecordId, user: ApiViewer) -> JSONResponse:
    return JSONResponse(_draft_json(request, draft_id, history=True))


def _act(
    request: Request, user: WebUser, draft_id: RecordId, action: ReviewAction, **kwargs: Any
) -> JSONResponse:
    desk = get_desk(request)
    listener = desk.listener
    listener.store.review(
        draft_id,
        action,
        actor=user.name,
        at=listener.clock.now(),
        four_eyes=desk.four_eyes,
        reply_names=listener.settings.reply_names_by_brand(),
        role=user.role,
        crisis_four_eyes=listener.settings.outreach.crisis_four_eyes,
        **kwargs,
    )
    return JSONResponse(_draft_json(request, draft_id))


@router.post("/drafts/{draft_id}/approve")
def api_approve(request: Request, draft_id: RecordId, user: ApiApprover) -> JSONResponse:
    return _act(request, user, draft_id, ReviewAction.APPROVE)


@router.post("/drafts/{draft_id}/reject")
def api_reject(
    request: Request, draft_id: RecordId, body: RejectBody, user: ApiApprover
) -> JSONResponse:
    if not body.reason.strip():
        return _unprocessable("a rejection needs a reason")
    return _act(request, user, draft_id, ReviewAction.REJECT, reason=body.reason)


@router.post("/drafts/{draft_id}/edit")
def api_edit(
    request: Request, draft_id: RecordId, body: EditBody, user: ApiApprover
) -> JSONResponse:
    listener = get_desk(request).listener
    draft = listener.store.draft(draft_id)
    text = body.text.replace("\r\n", "\n")
    try:
        names = listener.settings.reply_names_by_brand().get(draft.brand, ())
        check_text(text, draft.channel, names)
    except NotAllowed as exc:
        return _unprocessable(str(exc))
    return _act(request, user, draft_id, ReviewAction.EDIT, text=text)


@router.post("/drafts/{draft_id}/snooze")
def api_snooze(
    request: Request, draft_id: RecordId, body: SnoozeBody, user: ApiApprover
) -> JSONResponse:
    now = get_desk(request).listener.clock.now()
    if body.until is not None:
        until = utc(body.until)
    else:
        try:
            until = now + parse_duration(body.duration or "4h")
        except ValueError as exc:
            return _unprocessable(f"'for': {exc}")
    if until <= now:
        return _unprocessable("snooze until a time in the future")
    return _act(request, user, draft_id, ReviewAction.SNOOZE, snooze_until=until)


@router.get("/mentions")
def api_mentions(
    request: Request,
    user: ApiViewer,
    brand: str = "",
    source: str = "",
    category: str = "",
    dissatisfied: bool | None = None,
    q: Annotated[str, Query(max_length=200)] = "",
    incident: Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID)] = None,
    lang: Annotated[str, Query(max_length=20)] = "",
    before: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """Mentions, newest first; pass `next` back as `before` for older ones. `lang` is a
    language code ("zh"), or "-" for mentions whose language is unknown."""
    desk = get_desk(request)
    f = MentionFilter(
        brand=brand,
        source=source,
        category=category,
        dissatisfied=dissatisfied,
        search=q,
        lang=language_filter(lang),
    )
    found, cursor = desk.listener.store.desk.mention_page(
        f,
        before=FeedCursor.decode(before) if before else None,
        limit=limit,
        incident=incident,
    )
    return JSONResponse(
        {"items": [stored_as_dict(m) for m in found], "next": cursor.encode() if cursor else None}
    )


@router.get("/incidents")
def api_incidents(request: Request, user: ApiViewer, active: bool = False) -> JSONResponse:
    """Incidents, active first and most severe first; `active=true` for open ones only."""
    desk = get_desk(request)
    return JSONResponse(
        {
            "available": incident_data.available(),
            "items": incident_data.board_json(desk.listener, active_only=active),
        }
    )


@router.get("/incidents/{incident_id}")
def api_incident(request: Request, incident_id: RecordId, user: ApiViewer) -> JSONResponse:
    """One incident with its timeline, amplifying authors, mention ids and held replies."""
    found = incident_data.detail(get_desk(request).listener, incident_id)
    return JSONResponse(found.as_dict())


class CancelHeldBody(_Body):
    reason: str = Field(default="", max_length=2000)


def _held_json(request: Request, incident_id: int, action: str, ids: list[int]) -> JSONResponse:
    found = incident_data.detail(get_desk(request).listener, incident_id)
    return JSONResponse({**found.as_dict(), "action": action, "draft_ids": ids})


@router.post("/incidents/{incident_id}/hold")
def api_hold(request: Request, incident_id: RecordId, user: ApiCrisis) -> JSONResponse:
    """Hold the incident's routine outreach at any severity (crisis role)."""
    ids = incident_data.hold(get_desk(request).listener, incident_id, actor=user.name)
    return _held_json(request, incident_id, "hold", ids)


@router.post("/incidents/{incident_id}/release")
def api_release(request: Request, incident_id: RecordId, user: ApiCrisis) -> JSONResponse:
    """Release the held replies to the review queue, approval cleared (crisis role)."""
    ids = incident_data.release(get_desk(request).listener, incident_id, actor=user.name)
    return _held_json(request, incident_id, "release", ids)


@router.post("/incidents/{incident_id}/cancel-held")
def api_cancel_held(
    request: Request,
    incident_id: RecordId,
    user: ApiCrisis,
    body: CancelHeldBody | None = None,
) -> JSONResponse:
    """Cancel every reply held under the incident (crisis role)."""
    reason = body.reason if body is not None else ""
    ids = incident_data.cancel_held(
        get_desk(request).listener, incident_id, actor=user.name, reason=reason
    )
    return _held_json(request, incident_id, "cancel-held", ids)
