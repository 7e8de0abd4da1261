"""Delivering the alert outbox: route, hold (quiet hours, cooldown), claim, send, confirm.

Each run: deliveries stuck in `sending` longer than `stuck_after` go back to `pending` (their
dispatcher died after claiming); new alerts are routed to the channels whose brands and
minimum severity match; due deliveries are claimed (pending → sending, compare-and-set) in one
short transaction, sent with no transaction open, and confirmed (sending → sent) by their
claimer only. A failed send is retried with exponential backoff (capped, never given up while
the error is retryable), so a receiver that is down delays alerts and never loses them.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from listener.alerts.channel import Channel, OutgoingAlert
from listener.alerts.claims import Claim, DeliveryFacts, Fail, Hold, Supersede, decide_claim
from listener.alerts.email import EmailChannel
from listener.alerts.slack import SlackChannel
from listener.alerts.webhook import WebhookChannel
from listener.clock import Clock
from listener.errors import DispatchError
from listener.incidents.model import Severity
from listener.ops.metrics import Metrics
from listener.settings import AlertChannelSettings, Settings
from listener.store import Delivery, Store

log = logging.getLogger("listener.alerts")


def build_channels(
    configs: list[AlertChannelSettings], environ: Mapping[str, str]
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for config in configs:
        if config.kind == "webhook":
            channels[config.name] = WebhookChannel(config, environ)
        elif config.kind == "slack":
            channels[config.name] = SlackChannel(config)
        else:
            channels[config.name] = EmailChannel(config, environ)
    return channels


def routes_to(config: AlertChannelSettings, brand: str, severity: str) -> bool:
    """Does an alert about `brand` at `severity` go to this channel?"""
    if config.brands and brand and brand not in config.brands:
        return False
    try:
        level = Severity(severity).level
    except ValueError:
        level = Severity.LOW.level
    return level >= Severity(config.min_severity).level


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """base, 2·base, 4·base ... up to cap, after the `attempts`-th failure (1-based)."""
    factor: int = 2 ** max(0, min(attempts - 1, 20))
    return min(cap, base * factor)


@dataclass
class DispatchReport:
    routed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    superseded: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


class AlertDispatcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        channels: Mapping[str, Channel],
        *,
        owner: str | None = None,
        batch: int = 50,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.configs = {c.name: c for c in settings.alerts}
        self.store = store
        self.clock = clock
        self.channels = dict(channels)
        instance = settings.service.instance or socket.gethostname()
        self.owner = owner or f"{instance}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch = batch

    def run_once(self) -> DispatchReport:
        """One pass; safe to run from several processes at once."""
        report = DispatchReport()
        now = self.clock.now()
        if not self.store.alerts.has_work(now, self.settings.incidents.stuck_after):
            return report
        self.route(now, report)
        for delivery in self.claim(now, report):
            self._send(delivery, report)
        return report

    def route(self, now: datetime, report: DispatchReport | None = None) -> None:
        report = report or DispatchReport()
        incidents = self.settings.incidents
        recovered, routed = self.store.alerts.route(
            now,
            incidents.stuck_after,
            lambda alert: [
                c.name for c in self.configs.values() if routes_to(c, alert.brand, alert.severity)
            ],
        )
        report.recovered += recovered
        report.routed += routed

    def claim(self, now: datetime, report: DispatchReport | None = None) -> list[Delivery]:
        """Take due deliveries for this dispatcher (pending → sending); hold the ones that wait.

        The store gathers each delivery's facts and applies `decide_claim`'s ruling in one
        transaction (see `listener.alerts.claims`).
        """
        report = report or DispatchReport()
        claimed: list[Delivery] = []

        def decide(facts: DeliveryFacts) -> Fail | Hold | Supersede | Claim:
            return decide_claim(facts, configs=self.configs, channels=self.channels, now=now)

        for outcome in self.store.alerts.claim_due(now, self.batch, self.owner, decide):
            if isinstance(outcome.decision, Fail):
                report.failed += outcome.taken
                if outcome.taken:
                    self.metrics.delivery("alert", outcome.delivery.channel, "failed")
            elif isinstance(outcome.decision, Hold):
                report.held += 1
            elif isinstance(outcome.decision, Supersede):
                report.superseded += 1
            elif outcome.taken:
                claimed.append(outcome.delivery)
        return claimed

    def _send(self, d: Delivery, report: DispatchReport) -> None:
        now = self.clock.now()
        channel = self.channels[d.channel]
        alert = OutgoingAlert(
            alert_id=d.alert.id,
            kind=d.alert.kind,
            brand=d.alert.brand,
            severity=d.alert.severity,
            title=d.alert.title,
            body=d.alert.body,
            created_at=d.alert.created_at,
            sent_at=now,
        )
        incidents = self.settings.incidents
        try:
            try:
                channel.send(alert)
            except DispatchError:
                raise
            except Exception as exc:  # a bug in one channel must not strand the delivery
                log.exception("alert channel %s crashed", d.channel, extra=_context(d))
                raise DispatchError(f"alert channel {d.channel!r} crashed: {exc!r}") from exc
        except DispatchError as exc:
            if exc.retryable:
                wait = backoff(d.attempts + 1, incidents.retry_base, incidents.retry_max)
                self.store.alerts.mark_retry(d.id, self.owner, str(exc), now + wait)
                report.retrying += 1
            else:
                self.store.alerts.mark_failed(d.id, self.owner, str(exc), now)
                report.failed += 1
            self.metrics.delivery("alert", d.channel, "retry" if exc.retryable else "failed")
            report.errors.append(str(exc))
            log.warning(
                "alert %s to %s not delivered: %s",
                d.alert.id,
                d.channel,
                exc,
                extra=_context(d),
            )
            return
        if self.store.alerts.mark_sent(d.id, self.owner, now):
            report.sent += 1
        self.metrics.delivery("alert", d.channel, "sent")

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


def _context(d: Delivery) -> dict[str, object]:
    """Log context of a delivery: its alert, incident, brand and channel."""
    return {
        "alert_id": d.alert.id,
        "incident_id": d.alert.incident_id,
        "brand": d.alert.brand,
        "channel": d.channel,
    }
