"""What the pages need from incident storage (`listener.store.incidents`), in one place.

Incident storage belongs to the incidents area; it is imported lazily so the desk still works
(and says "no incident data") in an installation without it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from listener.app import Listener


@dataclass(frozen=True, slots=True)
class IncidentMarker:
    at: datetime
    label: str
    href: str


def _module() -> ModuleType | None:
    try:
        return importlib.import_module("listener.store.incidents")
    except ImportError:
        return None


def available() -> bool:
    return _module() is not None


def board(listener: Listener, *, active_only: bool = True, limit: int = 100) -> list[Any]:
    """Incidents for the board: active ones, most severe first (or all, newest first)."""
    module = _module()
    if module is None:
        return []
    with listener.store.read() as conn:
        found: list[Any] = module.list_incidents(
            conn, module.IncidentFilter(active_only=active_only), limit=limit
        )
    return found


def board_json(listener: Listener, *, active_only: bool = False) -> list[dict[str, Any]]:
    return [i.as_dict() for i in board(listener, active_only=active_only, limit=200)]


def detail(listener: Listener, incident_id: int) -> Any:
    """One incident with its timeline, amplifying authors and mention ids (NotFound if none)."""
    module = _module()
    if module is None:
        from listener.errors import NotFound

        raise NotFound("there is no incident data in this installation")
    with listener.store.read() as conn:
        return module.get_incident(conn, incident_id)


def acknowledge(listener: Listener, incident_id: int, *, actor: str) -> None:
    module = _module()
    if module is not None:
        with listener.store.write() as conn:
            module.acknowledge(conn, incident_id, actor=actor, at=listener.clock.now())


def close(listener: Listener, incident_id: int, *, actor: str, reason: str) -> None:
    module = _module()
    if module is not None:
        with listener.store.write() as conn:
            module.close(conn, incident_id, actor=actor, at=listener.clock.now(), reason=reason)


def choices(listener: Listener) -> list[tuple[int, str]]:
    """(id, label) of recent incidents, for the filter menus."""
    return [
        (i.id, f"{i.brand}: {i.title}"[:80]) for i in board(listener, active_only=False, limit=50)
    ]


def markers(listener: Listener, *, since: datetime, until: datetime) -> list[IncidentMarker]:
    """Incidents opened in [since, until), for the overview's time axis."""
    module = _module()
    if module is None:
        return []
    with listener.store.read() as conn:
        found = module.list_incidents(
            conn, module.IncidentFilter(since=since, until=until), limit=50
        )
    return [
        IncidentMarker(i.opened_at, f"#{i.id} {i.brand}: {i.title}", f"/incidents/{i.id}")
        for i in found
    ]
