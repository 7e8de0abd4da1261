"""When a reply may go out: frequency cap per author, the brand's quiet hours, channel send rate.

Pure: the dispatcher reads the send history and passes it in with `now`; these functions say
whether to send now or to hold, and until when, with a reason a person can read on the draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from listener.settings import QuietHours

__all__ = [
    "Hold",
    "author_cap_hold",
    "channel_rate_hold",
    "quiet_hours_end",
    "quiet_hours_hold",
]

RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Hold:
    """Do not send yet: `reason` is shown on the draft; try again at `until` (None: never)."""

    reason: str
    until: datetime | None


def _in_window(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window wraps midnight


def quiet_hours_end(quiet: QuietHours | None, now: datetime) -> datetime | None:
    """When the quiet window `now` falls in ends (UTC), or None when `now` is not quiet."""
    if quiet is None:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    if not _in_window(local.time().replace(tzinfo=None), quiet.start, quiet.end):
        return None
    end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


def quiet_hours_hold(brand: str, quiet: QuietHours | None, now: datetime) -> Hold | None:
    end = quiet_hours_end(quiet, now)
    if end is None or quiet is None:
        return None
    return Hold(
        f"quiet hours for {brand} ({quiet.start:%H:%M}-{quiet.end:%H:%M} {quiet.timezone}); "
        f"waits until {end:%Y-%m-%d %H:%M} UTC",
        end,
    )


def author_cap_hold(
    author: str,
    sent_at: Sequence[datetime],
    *,
    max_per_author: int,
    period: timedelta,
    now: datetime,
) -> Hold | None:
    """Hold when `author` already had `max_per_author` messages within `period` before `now`."""
    if max_per_author <= 0:
        return Hold("outreach.max_per_author is 0: no outreach messages may be sent; refused", None)
    recent = sorted(t for t in sent_at if now - period < t <= now)
    if len(recent) < max_per_author:
        return None
    # The cap frees up when the oldest message still inside the period falls out of it.
    until = recent[len(recent) - max_per_author] + period
    return Hold(
        f"frequency cap: {author or 'this author'} already had {len(recent)} message(s) in the "
        f"last {_human(period)} (max {max_per_author}); waits until {until:%Y-%m-%d %H:%M} UTC",
        until,
    )


def channel_rate_hold(
    channel: str, sent_at: Sequence[datetime], *, per_minute: int, now: datetime
) -> Hold | None:
    """Hold when the channel already sent `per_minute` messages in the last minute."""
    recent = sorted(t for t in sent_at if now - RATE_WINDOW < t <= now)
    if len(recent) < per_minute:
        return None
    until = recent[len(recent) - per_minute] + RATE_WINDOW
    return Hold(
        f"send rate: {channel} already sent {len(recent)} message(s) in the last minute "
        f"(outreach.send_rate_per_minute = {per_minute}); waits until {until:%H:%M:%S} UTC",
        until,
    )


def _human(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400 * 24} h" if seconds // 86400 == 1 else f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
