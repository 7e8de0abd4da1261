"""Crisis mode on the desk and the JSON API: an incident's holding statements (one per
channel), their approvals, posting, and crisis replies to amplifiers a person picks.

Only the crisis role (and admin) acts here; the incident page shows the section to everyone
who can see the incident, with the buttons only for `can_crisis`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from listener.domain import Channel, Statement, StatementStatus
from listener.errors import InvalidTransition, NotAllowed
from listener.outreach.crisis_desk import CrisisDesk
from listener.store import WebUser
from listener.web.deps import Crisis, Desk, RecordId, flash, get_desk
from listener.web.routes_api import ApiCrisis, ApiViewer

router = APIRouter()

CHANNELS = [c.value for c in Channel]


def crisis_desk(request: Request) -> CrisisDesk:
    """The app's one CrisisDesk (its templates are loaded and checked once)."""
    state = request.app.state
    found: CrisisDesk | None = getattr(state, "crisis", None)
    if found is None:
        listener = get_desk(request).listener
        found = CrisisDesk(listener.settings, listener.store, listener.clock)
        state.crisis = found
    return found


def statement_section(request: Request, incident_id: int) -> dict[str, Any]:
    """What `_statements.html` shows on the incident page."""
    desk = get_desk(request)
    crisis = crisis_desk(request)
    statements = crisis.statements(incident_id)
    live = {s.channel.value: s for s in statements if s.status is not StatementStatus.CANCELLED}
    replies = crisis.crisis_replies(incident_id)
    return {
        "statement_channels": [
            {"channel": channel, "statement": live.get(channel)} for channel in CHANNELS
        ],
        "statement_notes": {s.id: crisis.note(s) for s in statements},
        "crisis_replies": replies,
        "crisis_replies_max": desk.listener.settings.outreach.crisis_replies_max,
        "crisis_replied": {d.mention_id for d in replies},
    }


# -- the page's forms --------------------------------------------------------------------------


def _back(request: Request, incident_id: int, message: str, kind: str = "ok") -> Response:
    flash(request, kind, message)
    return RedirectResponse(f"/incidents/{incident_id}#statements", status_code=303)


def _on_statement(
    request: Request, statement_id: int, user: WebUser, act: Any, done: str
) -> Response:
    crisis = crisis_desk(request)
    statement = crisis.store.statements.get(statement_id)
    try:
        after: Statement = act(crisis, user)
    except (InvalidTransition, NotAllowed) as exc:
        return _back(request, statement.incident_id, str(exc), "error")
    return _back(request, statement.incident_id, f"{done} ({crisis.note(after)}).")


@router.post("/incidents/{incident_id}/statements")
def draft_statement(
    request: Request,
    incident_id: RecordId,
    user: Crisis,
    channel: Annotated[Channel, Form()],
) -> Response:
    crisis = crisis_desk(request)
    try:
        made = crisis.draft(incident_id, channel, actor=user.name)
    except (InvalidTransition, NotAllowed) as exc:
        return _back(request, incident_id, str(exc), "error")
    return _back(request, incident_id, f"Statement {made.id} drafted for {channel.value}.")


@router.post("/statements/{statement_id}/edit")
def edit_statement(
    request: Request,
    statement_id: RecordId,
    user: Crisis,
    text: Annotated[str, Form(max_length=20_000)],
) -> Response:
    return _on_statement(
        request,
        statement_id,
        user,
        lambda c, u: c.edit(statement_id, text, actor=u.name),
        f"Statement {statement_id} changed; approvals cleared",
    )


@router.post("/statements/{statement_id}/approve")
def approve_statement(request: Request, statement_id: RecordId, user: Crisis) -> Response:
    return _on_statement(
        request,
        statement_id,
        user,
        lambda c, u: c.approve(statement_id, actor=u.name, role=u.role),
        f"Statement {statement_id}",
    )


@router.post("/statements/{statement_id}/redraft")
def redraft_statement(request: Request, statement_id: RecordId, user: Crisis) -> Response:
    return _on_statement(
        request,
        statement_id,
        user,
        lambda c, u: c.redraft(statement_id, actor=u.name),
        f"Statement {statement_id} written again from its template",
    )


@router.post("/statements/{statement_id}/cancel")
def cancel_statement(request: Request, statement_id: RecordId, user: Crisis) -> Response:
    return _on_statement(
        request,
        statement_id,
        user,
        lambda c, u: c.cancel(statement_id, actor=u.name),
        f"Statement {statement_id} cancelled",
    )


@router.post("/statements/{statement_id}/posted")
def record_posted(
    request: Request,
    statement_id: RecordId,
    user: Crisis,
    url: Annotated[str, Form(max_length=2000)],
) -> Response:
    return _on_statement(
        request,
        statement_id,
        user,
        lambda c, u: c.posted(statement_id, url, actor=u.name),
        f"Statement {statement_id} recorded as posted",
    )


@router.post("/statements/{statement_id}/post")
def post_statement(request: Request, statement_id: RecordId, user: Crisis) -> Response:
    desk = get_desk(request)
    statement = desk.listener.store.statements.get(statement_id)
    try:
        after = _post(desk, statement_id)
    except (InvalidTransition, NotAllowed) as exc:
        return _back(request, statement.incident_id, str(exc), "error")
    if after.status is StatementStatus.POSTED:
        return _back(request, after.incident_id, f"Statement {statement_id} is posted.")
    problem = after.error or after.hold_reason or after.status.value
    return _back(request, after.incident_id, f"Statement {statement_id}: {problem}", "error")


def _post(desk: Desk, statement_id: int) -> Statement:
    dispatcher = desk.listener.replies
    if dispatcher is None:
        raise NotAllowed("this desk cannot post: nothing here sends messages")
    return dispatcher.post_statement(statement_id)


@router.post("/incidents/{incident_id}/crisis-replies")
def crisis_replies(
    request: Request,
    incident_id: RecordId,
    user: Crisis,
    author: Annotated[list[str] | None, Form(max_length=400)] = None,
) -> Response:
    crisis = crisis_desk(request)
    try:
        made = crisis.reply_to(incident_id, author or [], actor=user.name)
    except (InvalidTransition, NotAllowed) as exc:
        return _back(request, incident_id, str(exc), "error")
    ids = ", ".join(str(d.id) for d in made)
    return _back(
        request, incident_id, f"Crisis replies drafted ({ids}); they need crisis approval."
    )


# -- the JSON API ------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftBody(_Body):
    channel: Channel


class TextBody(_Body):
    text: str = Field(max_length=20_000)


class UrlBody(_Body):
    url: str = Field(max_length=2000)


class RepliesBody(_Body):
    authors: list[str] = Field(min_length=1, max_length=100)


def _json(crisis: CrisisDesk, statement: Statement, status_code: int = 200) -> JSONResponse:
    return JSONResponse(crisis.as_dict(statement), status_code=status_code)


@router.get("/api/incidents/{incident_id}/statements")
def api_statements(request: Request, incident_id: RecordId, user: ApiViewer) -> JSONResponse:
    """The incident's holding statements and crisis replies."""
    crisis = crisis_desk(request)
    crisis.store.incidents.detail(incident_id)  # NotFound for an unknown incident
    return JSONResponse(
        {
            "items": [crisis.as_dict(s) for s in crisis.statements(incident_id)],
            "crisis_replies": [d.as_dict() for d in crisis.crisis_replies(incident_id)],
        }
    )


@router.post("/api/incidents/{incident_id}/statements")
def api_draft(
    request: Request, incident_id: RecordId, body: DraftBody, user: ApiCrisis
) -> JSONResponse:
    crisis = crisis_desk(request)
    return _json(crisis, crisis.draft(incident_id, body.channel, actor=user.name), 201)


@router.post("/api/statements/{statement_id}/edit")
def api_edit(
    request: Request, statement_id: RecordId, body: TextBody, user: ApiCrisis
) -> JSONResponse:
    crisis = crisis_desk(request)
    try:
        return _json(crisis, crisis.edit(statement_id, body.text, actor=user.name))
    except NotAllowed as exc:  # the text itself: too long, empty, or not naming the brand
        return JSONResponse({"error": str(exc)}, status_code=422)


@router.post("/api/statements/{statement_id}/approve")
def api_approve(request: Request, statement_id: RecordId, user: ApiCrisis) -> JSONResponse:
    crisis = crisis_desk(request)
    return _json(crisis, crisis.approve(statement_id, actor=user.name, role=user.role))


@router.post("/api/statements/{statement_id}/redraft")
def api_redraft(request: Request, statement_id: RecordId, user: ApiCrisis) -> JSONResponse:
    crisis = crisis_desk(request)
    return _json(crisis, crisis.redraft(statement_id, actor=user.name))


@router.post("/api/statements/{statement_id}/cancel")
def api_cancel(request: Request, statement_id: RecordId, user: ApiCrisis) -> JSONResponse:
    crisis = crisis_desk(request)
    return _json(crisis, crisis.cancel(statement_id, actor=user.name))


@router.post("/api/statements/{statement_id}/posted")
def api_posted(
    request: Request, statement_id: RecordId, body: UrlBody, user: ApiCrisis
) -> JSONResponse:
    crisis = crisis_desk(request)
    return _json(crisis, crisis.posted(statement_id, body.url, actor=user.name))


@router.post("/api/statements/{statement_id}/post")
def api_post(request: Request, statement_id: RecordId, user: ApiCrisis) -> JSONResponse:
    """Post an approved statement now; one already posted is returned as it is."""
    desk = get_desk(request)
    return _json(crisis_desk(request), _post(desk, statement_id))


@router.post("/api/incidents/{incident_id}/crisis-replies")
def api_crisis_replies(
    request: Request, incident_id: RecordId, body: RepliesBody, user: ApiCrisis
) -> JSONResponse:
    crisis = crisis_desk(request)
    made = crisis.reply_to(incident_id, body.authors, actor=user.name)
    return JSONResponse({"items": [d.as_dict() for d in made]}, status_code=201)
