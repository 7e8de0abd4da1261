"""Pure send-time decisions: quiet hours (with time zones and midnight wrap), the frequency cap
per author and the send rate per channel, each with a reason and a time to try again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.outreach.caps import (
    author_cap_hold,
    channel_rate_hold,
    quiet_hours_end,
    quiet_hours_hold,
)
from listener.settings import QuietHours

T = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("start", "end", "zone", "now", "ends"),
    [
        ("22:00", "07:00", "UTC", "2026-03-09T23:30", "2026-03-10T07:00"),
        ("22:00", "07:00", "UTC", "2026-03-09T06:59", "2026-03-09T07:00"),
        ("22:00", "07:00", "UTC", "2026-03-09T07:00", None),
        ("22:00", "07:00", "UTC", "2026-03-09T21:59", None),
        ("09:00", "17:00", "UTC", "2026-03-09T12:00", "2026-03-09T17:00"),
        # 22:30 in London (GMT in March before the clocks change) is quiet until 08:00.
        ("21:00", "08:00", "Europe/London", "2026-03-09T22:30", "2026-03-10T08:00"),
        # New York is UTC-4 on 9 March 2026 (daylight time since 8 March).
        ("20:00", "08:00", "America/New_York", "2026-03-10T01:00", "2026-03-10T12:00"),
        ("00:00", "00:00", "UTC", "2026-03-09T12:00", None),  # an empty window is never quiet
    ],
)
def test_quiet_hours_end(start: str, end: str, zone: str, now: str, ends: str | None) -> None:
    quiet = QuietHours(start=start, end=end, timezone=zone)  # type: ignore[arg-type]
    found = quiet_hours_end(quiet, datetime.fromisoformat(now).replace(tzinfo=UTC))
    assert found == (datetime.fromisoformat(ends).replace(tzinfo=UTC) if ends else None)


def test_no_quiet_hours_no_hold() -> None:
    assert quiet_hours_hold("O2", None, T) is None


def test_the_quiet_hours_hold_says_why_and_until_when() -> None:
    quiet = QuietHours(start="09:00", end="17:00")  # type: ignore[arg-type]
    hold = quiet_hours_hold("O2", quiet, T)
    assert hold is not None and hold.until == T.replace(hour=17)
    assert hold.reason == "quiet hours for O2 (09:00-17:00 UTC); waits until 2026-03-09 17:00 UTC"


def test_the_cap_counts_only_messages_inside_the_period() -> None:
    earlier = [T - DAY - timedelta(minutes=1), T - timedelta(hours=2)]
    hold = author_cap_hold("dana", earlier, max_per_author=1, period=DAY, now=T)
    assert hold is not None and hold.until == T + DAY - timedelta(hours=2)
    assert "dana already had 1 message(s) in the last 24 h (max 1)" in hold.reason
    assert author_cap_hold("dana", earlier[:1], max_per_author=1, period=DAY, now=T) is None
    two = author_cap_hold("dana", earlier, max_per_author=2, period=DAY, now=T)
    assert two is None


def test_a_cap_of_n_frees_a_slot_when_the_oldest_of_the_last_n_falls_out() -> None:
    sent = [T - timedelta(hours=h) for h in (1, 2, 3)]
    hold = author_cap_hold("eli", sent, max_per_author=2, period=DAY, now=T)
    assert hold is not None and hold.until == T - timedelta(hours=2) + DAY


def test_a_zero_cap_refuses_for_good() -> None:
    hold = author_cap_hold("eli", [], max_per_author=0, period=DAY, now=T)
    assert hold is not None and hold.until is None and "refused" in hold.reason


def test_the_channel_rate_is_per_minute() -> None:
    sent = [T - timedelta(seconds=s) for s in (5, 30, 59)]
    hold = channel_rate_hold("x", sent, per_minute=3, now=T)
    assert hold is not None and hold.until == T - timedelta(seconds=59) + timedelta(minutes=1)
    assert channel_rate_hold("x", sent, per_minute=4, now=T) is None
    assert channel_rate_hold("x", [T - timedelta(seconds=61)], per_minute=1, now=T) is None
