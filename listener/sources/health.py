"""Is a source healthy? Pure judgement over its recorded poll history.

Silent failure is what users of listening tools complain about most, so a source is flagged
when it keeps failing, when its credentials stop working (disabled), or when it has gone quiet
for far longer than its own history makes normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class HealthState(StrEnum):
    HEALTHY = "healthy"
    RATE_LIMITED = "rate_limited"
    UNHEALTHY = "unhealthy"
    DISABLED = "disabled"
    NEVER_POLLED = "never_polled"


@dataclass(frozen=True, slots=True)
class Health:
    state: HealthState
    reason: str = ""

    @property
    def needs_attention(self) -> bool:
        return self.state in (HealthState.UNHEALTHY, HealthState.DISABLED)


def assess(
    *,
    now: datetime,
    every: timedelta,
    consecutive_failures: int,
    last_error: str,
    last_success_at: datetime | None,
    last_polled_at: datetime | None,
    retry_at: datetime | None,
    disabled_reason: str,
    mentions_total: int,
    mentions_24h: int,
    failures_threshold: int,
) -> Health:
    """The health of one source and, when it needs a person, why in one sentence."""
    if disabled_reason:
        return Health(HealthState.DISABLED, disabled_reason)
    if consecutive_failures >= failures_threshold:
        return Health(
            HealthState.UNHEALTHY,
            f"{consecutive_failures} failed polls in a row; last error: {last_error}",
        )
    if retry_at is not None and retry_at > now:
        return Health(HealthState.RATE_LIMITED, f"rate limited until {retry_at:%H:%M} UTC")
    if last_polled_at is None:
        return Health(HealthState.NEVER_POLLED, "not polled yet")
    quiet_limit = max(timedelta(hours=24), every * 50)
    if last_success_at is not None and now - last_success_at > quiet_limit:
        return Health(
            HealthState.UNHEALTHY,
            f"no successful poll since {last_success_at:%Y-%m-%d %H:%M} UTC",
        )
    # It polls fine but hears nothing: worth a look only if it used to be busy.
    if mentions_total >= 50 and mentions_24h == 0:
        return Health(
            HealthState.UNHEALTHY,
            f"no mentions in 24 h although it has delivered {mentions_total} before; "
            "check the query or feed URL",
        )
    return Health(HealthState.HEALTHY)
