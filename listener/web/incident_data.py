"""What the pages need from incident storage (`store.incidents`), in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.app import Listener
from listener.store import Incident


@dataclass(frozen=True, slots=True)
class IncidentMarker:
    at: datetime  # the first mention
    label: str
    href: str
    until: datetime  # the last mention
    short: str


def available() -> bool:
    return True


def board(listener: Listener, *, active_only: bool = True, limit: int = 100) -> list[Incident]:
    """Incidents for the board: active ones, most severe first (or all, newest first)."""
    return listener.store.incidents.find(active_only=active_only, limit=limit)


def board_json(listener: Listener, *, active_only: bool = False) -> list[dict[str, Any]]:
    return [i.as_dict() for i in board(listener, active_only=active_only, limit=200)]


def detail(listener: Listener, incident_id: int) -> Any:
    """One incident with its timeline, amplifying authors and mention ids (NotFound if none)."""
    return listener.store.incidents.detail(incident_id)


def acknowledge(listener: Listener, incident_id: int, *, actor: str) -> None:
    listener.store.incidents.acknowledge(incident_id, actor=actor, at=listener.clock.now())


def close(listener: Listener, incident_id: int, *, actor: str, reason: str) -> None:
    listener.store.incidents.close(incident_id, actor=actor, at=listener.clock.now(), reason=reason)


def hold(listener: Listener, incident_id: int, *, actor: str) -> list[int]:
    return listener.store.incidents.hold_outreach(incident_id, actor=actor, at=listener.clock.now())


def release(listener: Listener, incident_id: int, *, actor: str) -> list[int]:
    return listener.store.incidents.release_held(incident_id, actor=actor, at=listener.clock.now())


def cancel_held(listener: Listener, incident_id: int, *, actor: str, reason: str = "") -> list[int]:
    return listener.store.incidents.cancel_held(
        incident_id, actor=actor, at=listener.clock.now(), reason=reason
    )


def holds_banner(listener: Listener) -> list[tuple[str, int]]:
    """(brand, replies held) for each brand whose routine outreach is on hold: an active
    incident holds it, or replies wait under an incident for a person."""
    counts = listener.store.incidents.held_counts()
    found: dict[str, int] = {}
    for i in board(listener, active_only=True):
        if i.outreach_held:
            found.setdefault(i.brand, 0)
    if counts:
        for i in board(listener, active_only=False, limit=500):
            if i.id in counts:
                found[i.brand] = found.get(i.brand, 0) + counts[i.id]
    return sorted(found.items())


def choices(listener: Listener) -> list[tuple[int, str]]:
    """(id, label) of recent incidents, for the filter menus."""
    return [
        (i.id, f"{i.brand}: {i.title}"[:80]) for i in board(listener, active_only=False, limit=50)
    ]


def markers(listener: Listener, *, since: datetime, until: datetime) -> list[IncidentMarker]:
    """Incidents opened in [since, until), placed over their mentions' time span."""
    found = listener.store.incidents.find(since=since, until=until, limit=50)
    return [
        IncidentMarker(
            i.first_mention_at,
            f"#{i.id} {i.title}"
            if i.title.startswith(i.brand)
            else f"#{i.id} {i.brand}: {i.title}",
            f"/incidents/{i.id}",
            max(i.last_mention_at, i.first_mention_at),
            f"#{i.id}",
        )
        for i in found
    ]
