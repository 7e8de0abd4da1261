"""What the pages need from incident storage, in one place.

Incident storage (`listener.store.incidents`) is built by another area; until it exists the
pages say there is no incident data instead of failing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from listener.app import Listener


def _module() -> ModuleType | None:
    try:
        return importlib.import_module("listener.store.incidents")
    except ImportError:
        return None


def available() -> bool:
    return _module() is not None


def choices(listener: Listener) -> list[tuple[int, str]]:
    """(id, title) of recent incidents, for the filter menus."""
    return []


@dataclass(frozen=True, slots=True)
class IncidentMarker:
    at: datetime
    label: str
    href: str


def markers(listener: Listener, *, since: datetime, until: datetime) -> list[IncidentMarker]:
    """Incidents opened in [since, until), for the overview's time axis."""
    return []


def mention_ids(listener: Listener, incident_id: int) -> Any | None:
    """The ids of an incident's mentions (a list or subquery), or an empty list if none."""
    return []


def board(listener: Listener) -> list[Any]:
    """Open incidents for the board, most severe first."""
    return []


def board_json(listener: Listener) -> list[dict[str, Any]]:
    return []
