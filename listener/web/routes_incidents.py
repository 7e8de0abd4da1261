"""The incidents board: open incidents with severity, timeline, amplifiers and mentions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.errors import InvalidTransition, NotAllowed
from listener.store import WebUser
from listener.web import incident_data
from listener.web.deps import Approver, Crisis, RecordId, Viewer, flash, get_desk
from listener.web.pages import NavLink, render
from listener.web.routes_statements import statement_section

router = APIRouter()
NAV = [NavLink("Incidents", "/incidents")]

LINKED_MENTIONS = 50


@router.get("/incidents")
def incidents_page(request: Request, user: Viewer, show: str = "active") -> Response:
    desk = get_desk(request)
    active_only = show != "all"
    return render(
        request,
        "incidents.html",
        {
            "available": incident_data.available(),
            "incidents": incident_data.board(desk.listener, active_only=active_only),
            "show": "active" if active_only else "all",
        },
    )


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: RecordId, user: Viewer) -> Response:
    desk = get_desk(request)
    found = incident_data.detail(desk.listener, incident_id)
    linked = desk.listener.store.mentions_by_ids(found.mention_ids[-LINKED_MENTIONS:])
    mentions = sorted(
        linked.values(),
        key=lambda m: m.mention.published_at.timestamp() if m.mention.published_at else 0,
        reverse=True,
    )
    return render(
        request,
        "incident.html",
        {
            "i": found.incident,
            "timeline": found.timeline,
            "amplifiers": found.amplifiers,
            "mentions": mentions,
            "total_mentions": len(found.mention_ids),
            "held": found.held_drafts,
            **statement_section(request, incident_id),
        },
    )


def _act(
    request: Request, incident_id: RecordId, done: str, action: str, **kwargs: str
) -> Response:
    desk = get_desk(request)
    user: WebUser = request.state.user
    try:
        if action == "acknowledge":
            incident_data.acknowledge(desk.listener, incident_id, actor=user.name)
        elif action == "close":
            incident_data.close(desk.listener, incident_id, actor=user.name, **kwargs)
        elif action == "hold":
            n = len(incident_data.hold(desk.listener, incident_id, actor=user.name))
            done = f"{done} {_replies(n)} held now."
        elif action == "release":
            n = len(incident_data.release(desk.listener, incident_id, actor=user.name))
            done = f"{done} {_replies(n)} back in the queue for review."
        else:
            n = len(
                incident_data.cancel_held(desk.listener, incident_id, actor=user.name, **kwargs)
            )
            done = f"{done} {_replies(n)} cancelled."
    except (InvalidTransition, NotAllowed) as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", done)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(request: Request, incident_id: RecordId, user: Approver) -> Response:
    return _act(request, incident_id, f"Incident {incident_id} acknowledged.", "acknowledge")


@router.post("/incidents/{incident_id}/close")
def close(
    request: Request,
    incident_id: RecordId,
    user: Approver,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(request, incident_id, f"Incident {incident_id} closed.", "close", reason=reason)


def _replies(n: int) -> str:
    return f"{n} repl{'y' if n == 1 else 'ies'}"


@router.post("/incidents/{incident_id}/hold")
def hold(request: Request, incident_id: RecordId, user: Crisis) -> Response:
    return _act(request, incident_id, "Routine outreach on hold.", "hold")


@router.post("/incidents/{incident_id}/release")
def release(request: Request, incident_id: RecordId, user: Crisis) -> Response:
    return _act(request, incident_id, "Held replies released.", "release")


@router.post("/incidents/{incident_id}/cancel-held")
def cancel_held(
    request: Request,
    incident_id: RecordId,
    user: Crisis,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(request, incident_id, "Held replies cancelled.", "cancel", reason=reason)
