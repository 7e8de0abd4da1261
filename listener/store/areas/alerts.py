"""The alert outbox (`store.alerts`): route, claim under the rule of `listener.alerts.claims`,
confirm, retry; and what the CLI and replays list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from listener.alerts.claims import Claim, ClaimDecision, DeliveryFacts, Fail, Hold, Supersede
from listener.store import alerts as q
from listener.store.alerts import Alert, Delivery
from listener.store.areas.base import Area


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """What happened to one due delivery: the rule's decision, and whether this dispatcher
    took it (a `Claim` or `Fail` another dispatcher took first is not taken)."""

    delivery: Delivery
    decision: ClaimDecision
    taken: bool


class Alerts(Area):
    def has_work(self, now: datetime, stuck_after: timedelta) -> bool:
        """Is anything to route, recover or send? (A read: an idle pass takes no lock.)"""
        with self._store._read() as conn:
            return q.has_work(conn, now, stuck_after)

    def route(
        self,
        now: datetime,
        stuck_after: timedelta,
        channels_for: Callable[[Alert], Sequence[str]],
    ) -> tuple[int, int]:
        """Put deliveries stuck in `sending` back to `pending`, and route new alerts to the
        channels `channels_for` names; (recovered, routed)."""
        with self._store._write() as conn:
            recovered = q.recover_stuck(conn, now, stuck_after)
            routed = 0
            for alert in q.unrouted(conn):
                q.route(conn, alert, list(channels_for(alert)), now)
                routed += 1
        return recovered, routed

    def claim_due(
        self,
        now: datetime,
        limit: int,
        owner: str,
        decide: Callable[[DeliveryFacts], ClaimDecision],
    ) -> list[ClaimOutcome]:
        """In one transaction: gather each due delivery's facts, let `decide` rule, and apply
        the ruling (claim, fail, hold, supersede) before the next delivery is judged."""
        outcomes: list[ClaimOutcome] = []
        with self._store._write() as conn:
            for d in q.due(conn, now, limit):
                facts = DeliveryFacts(
                    channel=d.channel,
                    alert_kind=d.alert.kind,
                    newer_pending=q.newer_pending(conn, d),
                    last_sent=q.last_sent(conn, d.channel, d.cooldown_key),
                )
                decision = decide(facts)
                taken = False
                if isinstance(decision, Fail):
                    taken = q.claim(conn, d.id, owner, now)
                    if taken:
                        q.mark_failed(conn, d.id, owner, decision.reason, now)
                elif isinstance(decision, Hold):
                    q.hold(conn, d.id, decision.until, decision.reason)
                elif isinstance(decision, Supersede):
                    q.supersede(conn, d.id, decision.by_alert)
                elif isinstance(decision, Claim):
                    taken = q.claim(conn, d.id, owner, now)
                outcomes.append(ClaimOutcome(d, decision, taken))
        return outcomes

    def mark_sent(self, delivery_id: int, owner: str, at: datetime) -> bool:
        with self._store._write() as conn:
            return q.mark_sent(conn, delivery_id, owner, at)

    def mark_retry(self, delivery_id: int, owner: str, error: str, retry_at: datetime) -> None:
        with self._store._write() as conn:
            q.mark_retry(conn, delivery_id, owner, error, retry_at)

    def mark_failed(self, delivery_id: int, owner: str, error: str, at: datetime) -> None:
        with self._store._write() as conn:
            q.mark_failed(conn, delivery_id, owner, error, at)

    def deliveries(
        self, *, status: str | None = None, incident_id: int | None = None, limit: int = 500
    ) -> list[Delivery]:
        with self._store._read() as conn:
            return q.list_deliveries(conn, status=status, incident_id=incident_id, limit=limit)

    def waiting(self) -> int:
        """Deliveries not yet sent nor given up (pending or sending)."""
        with self._store._read() as conn:
            return len(q.list_deliveries(conn, status=q.PENDING)) + len(
                q.list_deliveries(conn, status=q.SENDING)
            )

    def all(self) -> list[Alert]:
        """Every alert ever queued, oldest first."""
        with self._store._read() as conn:
            return [q._alert(r) for r in conn.execute(select(q.ALERT).order_by(q.ALERT.c.id))]
