"""Time as a dependency: the core never calls datetime.now() itself.

`SystemClock` for the service; `ReplayClock` for `listener import --replay`, where time is set
to each mention's publication time so detection and alerts behave as they would have live.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from listener.domain import utc


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ReplayClock:
    """A clock that only moves when told to (and never backwards)."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, moment: datetime) -> None:
        moment = utc(moment)
        if moment > self._now:
            self._now = moment
