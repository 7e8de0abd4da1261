"""The incidents board: open incidents with severity, timeline, amplifiers and mentions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from listener.store import users
from listener.web import incident_data
from listener.web.auth import Role
from listener.web.deps import get_desk, requires
from listener.web.pages import NavLink, render

router = APIRouter()
NAV = [NavLink("Incidents", "/incidents")]

Viewer = Annotated[users.WebUser, Depends(requires(Role.VIEWER))]


@router.get("/incidents")
def incidents_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    return render(
        request,
        "incidents.html",
        {
            "available": incident_data.available(),
            "incidents": incident_data.board(desk.listener),
        },
    )
