"""Incident detection wired to the store: the after-store step, auto-resolve, alert dispatch.

The step runs on each committed batch of new mentions. In ONE write transaction per batch it
locks each brand's detector state, runs the pure detector (`listener.incidents`), saves the
incidents it opened or grew, and writes their alerts to the outbox: an incident never exists
without its alert, nor an alert without its incident. Detector state lives in the database, so
a restart (or another instance) carries on where the last batch left off. In the same
transaction, an incident at or above `outreach.crisis_severity` holds its mentions' reply drafts
(crisis mode, `listener.incidents.holds`), so a mention is never in a held incident with its
draft still in the routine queue. Mentions stored
since the state's last mention but not handed to this step (a batch whose step failed, or
another instance's batch committed in between) are read back and processed first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from listener.alerts.channel import Channel
from listener.alerts.dispatcher import AlertDispatcher, build_channels
from listener.alerts.message import ESCALATED, OPENED, incident_body
from listener.clock import Clock
from listener.domain import StoredMention
from listener.incidents.detector import (
    ActiveIncident,
    BrandState,
    DetectionRules,
    Detector,
    observe,
)
from listener.incidents.terms import brand_words
from listener.ops.metrics import Metrics
from listener.settings import Settings
from listener.store import DetectionStep, Store, story_key


def detection_rules(settings: Settings) -> DetectionRules:
    return DetectionRules.from_settings(
        settings.incidents, settings.scoring.incident_risk_threshold
    )


@dataclass
class _Known:
    """A brand's state as this tracker last committed it, and the row version it wrote."""

    version: datetime
    state: BrandState


class IncidentTracker:
    """After-store step: new mentions → incidents and outbox alerts, in one transaction.

    The brand states it committed are kept in memory: under the row lock, a version check
    (one indexed read of `updated_at`, which every save moves forward) says whether another
    instance wrote since, and only then is the state JSON read and parsed again. A state is
    only trusted again once the transaction that changed it has committed.
    """

    name = "incidents"

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.rules = detection_rules(settings)
        self.detector = Detector(self.rules)
        self.ignore = {b.name: brand_words([b.name, *b.terms]) for b in settings.brands}
        self.public_url = settings.web.public_url
        self.crisis_severity = settings.outreach.crisis_severity
        self._known: dict[str, _Known] = {}

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
        by_brand: dict[str, list[StoredMention]] = defaultdict(list)
        for s in stored:
            by_brand[s.brand].append(s)
        brands = sorted(by_brand)
        # Taken out first: if the transaction fails, the states changed in it are dropped.
        known = {b: self._known.pop(b) for b in brands if b in self._known}
        committed: dict[str, _Known] = {}
        with self.store.incidents.detection() as tx:
            for brand in brands:
                committed[brand] = self._brand(tx, brand, by_brand[brand], now, known.get(brand))
        self._known.update(committed)

    def _brand(
        self,
        tx: DetectionStep,
        brand: str,
        stored: Sequence[StoredMention],
        now: datetime,
        known: _Known | None,
    ) -> _Known:
        locked = tx.lock_brand_state(brand, now, known.version if known else None)
        if locked.current and known is not None:
            state = known.state
        else:
            state = BrandState.from_json(locked.state)
        if locked.current or locked.state:
            stored = [*tx.missed_mentions(brand, state.max_mention_id, stored), *stored]
        incidents = tx.active_incidents(brand)
        ignore = self.ignore.get(brand, frozenset())
        observations = [observe(s, self.rules, ignore, story_key(s.mention)) for s in stored]
        self.detector.process(state, incidents, observations, now)
        for incident in incidents:
            if incident.changed:
                self._save(tx, incident, now)
        version = tx.save_state(brand, state.as_json(), now, locked.version)
        return _Known(version, state)

    def _save(self, tx: DetectionStep, incident: ActiveIncident, now: datetime) -> None:
        opened = incident.is_new
        incident_id = tx.save_detected(incident, now)
        held, _ = tx.apply_hold_rule(incident_id, self.crisis_severity, now)
        if not opened and not incident.escalations:
            return  # mentions joined, no new level: nothing to alert
        saved = tx.get(incident_id)
        if opened:
            kind, previous, key = OPENED, None, f"incident:{saved.id}:opened"
        else:
            previous = incident.escalations[0][0].value
            kind, key = ESCALATED, f"incident:{saved.id}:severity:{saved.severity}"
        tx.enqueue_alert(
            kind,
            saved.brand,
            saved.severity,
            saved.title,
            incident_body(
                saved,
                kind,
                self.public_url,
                previous_severity=previous,
                held_replies=tx.held_count(saved.id) if held else None,
            ),
            key,
            now,
            incident_id=saved.id,
        )


@dataclass
class IncidentWiring:
    """What `make_listener` adds for incidents: the step, the dispatcher, the resolver."""

    tracker: IncidentTracker
    dispatcher: AlertDispatcher
    resolver: QuietResolver
    after_store: list[IncidentTracker] = field(default_factory=list)


class QuietResolver:
    """Resolves incidents that have been quiet for `incidents.quiet_after`."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.quiet_after = settings.incidents.quiet_after
        self.store = store
        self.clock = clock

    def run_once(self) -> list[int]:
        now = self.clock.now()
        return self.store.incidents.resolve_quiet(now, self.quiet_after)


def build_incidents(
    settings: Settings,
    store: Store,
    clock: Clock,
    environ: Mapping[str, str],
    channels: Mapping[str, Channel] | None = None,
    *,
    metrics: Metrics | None = None,
) -> IncidentWiring:
    tracker = IncidentTracker(settings, store)
    built = dict(channels) if channels is not None else build_channels(settings.alerts, environ)
    return IncidentWiring(
        tracker=tracker,
        dispatcher=AlertDispatcher(settings, store, clock, built, metrics=metrics),
        resolver=QuietResolver(settings, store, clock),
        after_store=[tracker],
    )
