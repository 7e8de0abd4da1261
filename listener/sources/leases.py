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

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A run may start late (waiting for a free worker, a slow database): a source becomes due again
# this much before its full interval, so the instance that polled it late is not locked out of
# its next regular run. Two polls of one source are still at least 3/4 of an interval apart.
_DUE_EARLY_SHARE = 0.25
_DUE_EARLY_MAX = timedelta(seconds=60)
_GRID_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


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


def schedule_anchor(name: str, every: timedelta) -> datetime:
    """Where a source's timer grid starts: the same on every instance, spread across sources.

    Every instance fires a source's poll at the same wall-clock moments (the first claims it,
    the others find it not due), instead of each on its own phase, which would let the source
    be polled several times per interval. The offset within the interval comes from the name,
    so sources do not all poll in lockstep; this replaces random jitter, which drifts.
    """
    period_ms = max(int(every.total_seconds() * 1000), 1)
    offset_ms = zlib.crc32(name.encode("utf-8")) % period_ms
    return _GRID_EPOCH + timedelta(milliseconds=offset_ms)


def format_instance_id(configured: str, *, host: str, pid: int, token: str) -> str:
    """The configured name, else host:pid:token (unique even for two processes on one host)."""
    configured = configured.strip()
    if configured:
        return configured[:200]
    return f"{host}:{pid}:{token}"[:200]
