"""Crisis mode end to end: a data-leak story replayed through the real pipeline (hundreds of
angry posts in an hour on a local X-shaped server), the detection step holding replies, the
dispatcher sending none of them, and a person releasing or cancelling them in bulk. Then the
echo check: a reply nearly the same as one just sent waits for a person to reword it.

Run on SQLite and PostgreSQL through the same `make_listener` the service uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import Category, DraftStatus, Mention, Score, Signal
from listener.incidents.tracking import IncidentTracker
from listener.outreach.dispatch import Dispatcher
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from listener.store import DraftFilter
from listener.store import alerts as alert_store
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import X_KEYS, x_mention

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = "https://technews.example/o2-leak"
LEAK = "O2 leaked my phone number, getting spam calls all day. data breach! reply {n}"


class LeakScorer:
    """Every mention is an angry privacy complaint, risky enough for the reach rule (0.7) but
    below the risk that adds a severity level (0.8): severity then follows the volume."""

    version = "test-leak"

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]:
        return [
            Score(0.9, True, 0.7, Category.PRIVACY, None, (Signal("test", 0.9),), self.version)
            for _ in mentions
        ]


@pytest.fixture
def settings(db_url: str, make_settings: Callable[..., Settings], x_api: XApiServer) -> Settings:
    return make_settings(
        database={"url": db_url},
        incidents={"news_domains": ["technews.example"]},
        x_publish={"api_url": x_api.url, "timeout": "5s"},
        web={"base_url": "https://desk.example"},
    )


@pytest.fixture
def opened() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def start(settings: Settings, clock: ReplayClock, opened: list[Listener]) -> Listener:
    listener = make_listener(
        settings, scorer=LeakScorer(), clock=clock, sources=[], environ=dict(X_KEYS)
    )
    opened.append(listener)
    return listener


def news(at: datetime) -> Mention:
    return Mention(
        source="technews",
        external_id=f"{LINK}/0",
        url=LINK,
        title="O2 leaked the phone numbers of thousands of customers",
        text="A misconfigured server at O2 exposed customers' phone numbers in a data breach.",
        author="TechNews",
        published_at=at,
        source_kind="feed",
    )


def angry(x_api: XApiServer, n: int, at: datetime) -> Mention:
    user = x_api.add_user(f"cust{n}")
    return replace(x_mention(x_api, user, LEAK.format(n=n)), published_at=at)


def ingest(listener: Listener, clock: ReplayClock, mentions: list[Mention]) -> None:
    clock.advance_to(max(m.published_at for m in mentions if m.published_at))
    report = listener.pipeline.ingest(mentions)
    assert report.problems == []


def drafts(listener: Listener, status: str = "all") -> list[object]:
    return sorted(
        listener.store.drafts(DraftFilter(status=status), limit=10_000),
        key=lambda d: d.id,
    )


def dispatch(listener: Listener, clock: ReplayClock) -> object:
    dispatcher = Dispatcher(listener.settings, listener.store, clock, environ=dict(X_KEYS))
    try:
        return dispatcher.run_once()
    finally:
        dispatcher.close()


def audit_actions(listener: Listener, action: str) -> int:
    return sum(1 for r in listener.store.audit(limit=100_000) if r.action == action)


def storm(listener: Listener, clock: ReplayClock, x_api: XApiServer) -> tuple[int, list[int]]:
    """The story: a news report opens the incident (medium); ten angry posts arrive and a
    person approves five replies before it grows; then 300 more in the hour, in batches,
    until the incident is critical. Returns the incident id and the approved draft ids."""
    ingest(listener, clock, [news(T0)])
    first = [angry(x_api, n, T0 + timedelta(minutes=1)) for n in range(10)]
    ingest(listener, clock, first)
    [incident] = listener.store.incidents.find()
    assert incident.severity == "medium" and not incident.outreach_held
    approved = [d.id for d in drafts(listener, "pending")[:5]]
    for draft_id in approved:
        listener.store.review(draft_id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    for batch in range(12):
        at = T0 + timedelta(minutes=5 + 5 * batch)
        ingest(listener, clock, [angry(x_api, 100 + 25 * batch + i, at) for i in range(25)])
    return incident.id, approved


def test_a_storm_holds_every_reply_to_its_authors_and_nothing_goes_out(
    settings: Settings, opened: list[Listener], x_api: XApiServer
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    incident_id, approved = storm(listener, clock, x_api)

    detail = listener.store.incidents.detail(incident_id)
    incident = detail.incident
    assert incident.severity == "critical" and incident.mention_count == 311
    assert incident.outreach_hold == "auto" and incident.outreach_held
    # Every reply to the story's authors left the routine queue, except the five a person had
    # already approved: those wait for the dispatcher's check.
    assert drafts(listener, "pending") == []
    held = drafts(listener, "held")
    assert len(held) == 305 and {d.held_incident_id for d in held} == {incident_id}
    assert held[0].hold_reason.startswith(f"held: incident #{incident_id} (Data breach at O2, ")
    assert {d.id for d in drafts(listener, "approved")} == set(approved)

    report = dispatch(listener, clock)

    assert x_api.requests_to("post") == []  # not one routine reply during the incident
    assert set(report.held) == set(approved)  # type: ignore[attr-defined]
    detail = listener.store.incidents.detail(incident_id)
    assert len(detail.held_drafts) == 310
    approved_held = [h for h in detail.held_drafts if h["id"] in approved]
    assert all(h["approved_by"] == "ann" for h in approved_held)
    assert all(h["reason"].startswith(f"held: incident #{incident_id} (") for h in approved_held)
    actions = [e["action"] for e in detail.timeline]
    assert actions.count("outreach held") == 1  # when it reached high, once
    assert actions.count("reply held") == 5  # each approved reply the dispatcher stopped
    assert audit_actions(listener, "draft.held") == 310
    assert audit_actions(listener, "incident.outreach_held") == 1

    # The alert for reaching high says routine outreach is on hold, and how many replies wait.
    with listener.store._read() as conn:
        alerts = conn.execute(alert_store.ALERT.select().order_by(alert_store.ALERT.c.id)).all()
    by_severity = {a.severity: a.body for a in alerts if a.kind == "incident.escalated"}
    assert by_severity["high"]["outreach_on_hold"] is True
    assert by_severity["high"]["held_replies"] >= 40
    assert "Routine outreach for O2 is on hold" in by_severity["high"]["outreach"]
    opening = next(a.body for a in alerts if a.kind == "incident.opened")
    assert opening["outreach_on_hold"] is False  # medium: below the crisis severity

    # Restart-safe: a new process, and the step run again on the same mentions, hold nothing
    # twice and lose nothing.
    listener.close()
    opened.remove(listener)
    again = start(settings, clock, opened)
    stored = again.store.mentions_by_ids(detail.mention_ids)
    IncidentTracker(settings, again.store)(list(stored.values()), clock.now())
    assert len(drafts(again, "held")) == 310 and audit_actions(again, "draft.held") == 310
    assert dispatch(again, clock) is not None and x_api.requests_to("post") == []


def test_release_puts_every_held_reply_back_for_review_and_stays_released(
    settings: Settings, opened: list[Listener], x_api: XApiServer
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    incident_id, _ = storm(listener, clock, x_api)
    dispatch(listener, clock)

    released = listener.store.incidents.release_held(incident_id, actor="cora", at=clock.now())

    assert len(released) == 310 and drafts(listener, "held") == []
    pending = drafts(listener, "pending")
    assert len(pending) == 310
    # Approval cleared: a person reviews each again in the light of the incident.
    assert all(d.approved_by == "" and d.held_incident_id is None for d in pending)
    assert audit_actions(listener, "draft.released") == 310
    detail = listener.store.incidents.detail(incident_id)
    assert detail.incident.outreach_hold == "released" and not detail.incident.outreach_held
    assert [e["actor"] for e in detail.timeline if e["action"] == "outreach released"] == ["cora"]

    # Released stays released: the story's next posts get replies in the normal queue.
    later = T0 + timedelta(minutes=70)
    ingest(listener, clock, [angry(x_api, 900 + i, later) for i in range(3)])
    assert drafts(listener, "held") == [] and len(drafts(listener, "pending")) == 313

    # A reviewed, re-approved reply goes out once the person decides it should.
    first = pending[0]
    listener.store.review(first.id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    report = dispatch(listener, clock)
    assert list(report.sent) == [first.id]  # type: ignore[attr-defined]


def test_a_person_holds_an_incident_below_the_crisis_severity_then_cancels_in_bulk(
    settings: Settings, opened: list[Listener], x_api: XApiServer
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    ingest(listener, clock, [angry(x_api, n, T0 + timedelta(minutes=1)) for n in range(6)])
    [incident] = listener.store.incidents.find()
    assert incident.severity in ("low", "medium") and len(drafts(listener, "pending")) == 6

    held = listener.store.incidents.hold_outreach(incident.id, actor="cora", at=clock.now())
    assert len(held) == 6 and drafts(listener, "pending") == []
    # Later posts of the story are held as they join.
    ingest(listener, clock, [angry(x_api, 50 + n, T0 + timedelta(minutes=3)) for n in range(2)])
    assert len(drafts(listener, "held")) == 8

    cancelled = listener.store.incidents.cancel_held(
        incident.id, actor="cora", at=clock.now(), reason="one statement instead"
    )
    assert len(cancelled) == 8
    gone = drafts(listener, "cancelled")
    assert len(gone) == 8 and {d.reject_reason for d in gone} == {"one statement instead"}
    assert audit_actions(listener, "draft.cancel") == 8
    assert audit_actions(listener, "incident.held_cancelled") == 1
    timeline = listener.store.incidents.detail(incident.id).timeline
    assert [e["action"] for e in timeline if e["actor"] == "cora"] == [
        "outreach held",
        "held replies cancelled",
    ]


def test_crisis_mode_off_leaves_the_queue_alone(
    make_settings: Callable[..., Settings],
    db_url: str,
    opened: list[Listener],
    x_api: XApiServer,
) -> None:
    settings = make_settings(
        database={"url": db_url},
        incidents={"news_domains": ["technews.example"]},
        outreach={"crisis_severity": "off"},
    )
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    for batch in range(3):
        at = T0 + timedelta(minutes=1 + 5 * batch)
        ingest(listener, clock, [angry(x_api, 25 * batch + i, at) for i in range(25)])
    [incident] = listener.store.incidents.find()
    assert incident.severity == "high" and incident.outreach_hold == ""
    assert drafts(listener, "held") == [] and len(drafts(listener, "pending")) == 75


# -- no echoing --------------------------------------------------------------------------------


def test_a_reply_nearly_the_same_as_one_just_sent_waits_to_be_reworded(
    make_settings: Callable[..., Settings],
    db_url: str,
    opened: list[Listener],
    x_api: XApiServer,
) -> None:
    settings = make_settings(
        database={"url": db_url}, x_publish={"api_url": x_api.url, "timeout": "5s"}
    )
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    dana, sam = x_api.add_user("dana"), x_api.add_user("sam")
    ingest(
        listener,
        clock,
        [
            replace(x_mention(x_api, dana, "@O2 my bill doubled"), published_at=T0),
            replace(x_mention(x_api, sam, "@O2 charged twice"), published_at=T0),
        ],
    )
    first, second = drafts(listener, "pending")
    listener.store.review(first.id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    dispatch(listener, clock)
    assert len(x_api.posts) == 1

    clock.advance_to(T0 + timedelta(minutes=12))
    listener.store.review(second.id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    report = dispatch(listener, clock)

    assert len(x_api.posts) == 1  # X would refuse the same words anyway; we do not try
    back = listener.store.draft(second.id)
    reason = (
        f"nearly the same as the reply sent to @dana 12 minutes ago (draft #{first.id}): reword it"
    )
    assert back.status is DraftStatus.PENDING and back.approved_by == ""
    assert back.hold_reason == reason and report.held == {second.id: reason}  # type: ignore[attr-defined]
    assert audit_actions(listener, "draft.reword") == 1

    # Approving it again unchanged changes nothing: a person must reword it.
    listener.store.review(second.id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    dispatch(listener, clock)
    assert listener.store.draft(second.id).status is DraftStatus.PENDING

    reworded = (
        f"{second.recipient} thanks for flagging the double charge. O2 has refunded the second "
        "payment; it shows on your account within three days. Reply STOP to opt out."
    )
    listener.store.review(second.id, ReviewAction.EDIT, actor="bob", text=reworded, at=clock.now())
    assert listener.store.draft(second.id).hold_reason == ""
    listener.store.review(second.id, ReviewAction.APPROVE, actor="ann", at=clock.now())
    report = dispatch(listener, clock)
    assert list(report.sent) == [second.id]  # type: ignore[attr-defined]
    assert [p.text for p in x_api.posts][-1] == reworded
