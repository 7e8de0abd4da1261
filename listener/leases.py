"""Who may poll a source now: the pure rules behind source leases.

Several service instances share one PostgreSQL database and must poll each source once per
interval, not once per instance. A source row carries `lease_owner` and `lease_expires_at`;
`lease_expires_at` means "nobody polls this source before then", for two reasons:

* while an instance polls, it holds the lease (owner set) and keeps pushing the expiry one
  lease period ahead; if it dies, the expiry passes and any other instance takes over;
* when the poll ends, the owner is cleared and the expiry is set to when the source is next
  due, so an instance whose timer fires a little later does not poll it a second time.

Everything here is arithmetic on times given to it; the store applies these decisions with
row locks (PostgreSQL) or a compare-and-set update (SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The scheduler adds up to 10% of the interval (at most 30 s) as jitter to each run, and a run
# may wait for a free worker; a source becomes due again this much before its full interval so
# the instance that polled it last is not locked out by its own jitter.
_DUE_EARLY_SHARE = 0.25
_DUE_EARLY_MAX = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What a source row says about its lease."""

    owner: str
    expires_at: datetime | None


def is_claimable(state: LeaseState, now: datetime) -> bool:
    """A source may be claimed when no unexpired lease or not-before time stands in the way."""
    return state.expires_at is None or state.expires_at <= now


def held_until(now: datetime, lease: timedelta) -> datetime:
    """Expiry of a lease taken or renewed at `now`."""
    return now + lease


def renew_every(lease: timedelta) -> timedelta:
    """Renew well before expiry: a third of the lease leaves two chances to succeed."""
    return max(lease / 3, timedelta(milliseconds=200))


def next_due(started: datetime, every: timedelta) -> datetime:
    """When a source polled at `started` may be polled again, by any instance."""
    return started + every - min(every * _DUE_EARLY_SHARE, _DUE_EARLY_MAX)


def format_instance_id(configured: str, *, host: str, pid: int, token: str) -> str:
    """The configured name, else host:pid:token (unique even for two processes on one host)."""
    configured = configured.strip()
    if configured:
        return configured[:200]
    return f"{host}:{pid}:{token}"[:200]
