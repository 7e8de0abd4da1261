"""Which due alert deliveries to send now: the rule the dispatcher applies under its lock.

The store gathers the facts about each due delivery into a `DeliveryFacts` in the claiming
transaction, `decide_claim` (pure: facts, settings and `now`) says what to do with it, and the
store applies the answer in the same transaction, so two dispatchers never both send it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from listener.alerts.message import ESCALATED
from listener.outreach.caps import quiet_hours_end
from listener.settings import AlertChannelSettings


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What the claim rule needs to know about one due delivery."""

    channel: str
    alert_kind: str
    # A later pending delivery on the same channel with the same cooldown key: its alert id.
    newer_pending: int | None
    # When a delivery with the same cooldown key last went out on this channel.
    last_sent: datetime | None


@dataclass(frozen=True, slots=True)
class Fail:
    """The channel is gone: claim the delivery and mark it failed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Not yet: leave it pending until `until`."""

    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Supersede:
    """A newer escalation of the same incident will say more: drop this one."""

    by_alert: int


@dataclass(frozen=True, slots=True)
class Claim:
    """Send it now."""


ClaimDecision = Fail | Hold | Supersede | Claim


def decide_claim(
    facts: DeliveryFacts,
    *,
    configs: Mapping[str, AlertChannelSettings],
    channels: Collection[str],
    now: datetime,
) -> ClaimDecision:
    """Quiet hours hold, a newer escalation supersedes, the cooldown holds; else claim."""
    config = configs.get(facts.channel)
    if config is None or facts.channel not in channels:
        return Fail(f"channel {facts.channel!r} is no longer configured")
    quiet_end = quiet_hours_end(config.quiet_hours, now)
    if quiet_end is not None:
        return Hold(quiet_end, "quiet hours")
    if facts.alert_kind == ESCALATED and facts.newer_pending:
        return Supersede(facts.newer_pending)
    last = facts.last_sent
    if last is not None and now - last < config.cooldown:
        return Hold(last + config.cooldown, "cooldown")
    return Claim()
