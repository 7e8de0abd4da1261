"""Incidents in the store: opened with their alert in one transaction, grown by new mentions,
carried across restarts, resolved when quiet, and acknowledged, closed or merged by a person
(each audited). Run on SQLite and PostgreSQL through the same `make_listener` the service uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import IngestItem, Mention
from listener.errors import InvalidTransition, NotFound
from listener.incidents.tracking import IncidentTracker
from listener.settings import Settings
from listener.store import alerts as alert_store
from listener.store import incidents as q

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = "https://technews.example/o2-leak"


@pytest.fixture
def settings(db_url: str, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        database={"url": db_url},
        incidents={"news_domains": ["technews.example"], "quiet_after": "2h"},
        web={"base_url": "https://desk.example"},
    )


@pytest.fixture
def opened() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def start(settings: Settings, clock: ReplayClock, opened: list[Listener]) -> Listener:
    listener = make_listener(settings, clock=clock, sources=[])
    opened.append(listener)
    return listener


def news(at: datetime, n: int = 0) -> Mention:
    return Mention(
        source="technews",
        external_id=f"{LINK}/{n}",
        url=LINK,
        title="O2 leaked the phone numbers of thousands of customers",
        text="A misconfigured server at O2 exposed customers' phone numbers in a data breach.",
        author="TechNews",
        published_at=at,
        source_kind="feed",
    )


def post(at: datetime, n: int, *, followers: int = 150, text: str = "") -> Mention:
    return Mention(
        source="x",
        external_id=f"p{n}",
        text=text or "O2 leaked my phone number, getting spam calls. data breach!",
        author=f"user{n}",
        author_followers=followers,
        published_at=at,
        source_kind="x",
    )


def ingest(listener: Listener, clock: ReplayClock, mentions: list[Mention]) -> None:
    clock.advance_to(max(m.published_at for m in mentions if m.published_at))
    report = listener.pipeline.ingest(mentions)
    assert report.problems == []


def incidents(listener: Listener) -> list[q.Incident]:
    with listener.store._read() as conn:
        return q.list_incidents(conn)


def deliveries_and_alerts(listener: Listener) -> list[tuple[str, str]]:
    with listener.store._read() as conn:
        rows = conn.execute(alert_store.ALERT.select().order_by(alert_store.ALERT.c.id)).all()
    return [(r.kind, r.severity) for r in rows]


def test_an_opening_incident_and_its_alert_are_saved_together(
    settings: Settings, opened: list[Listener]
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    [incident] = incidents(listener)
    assert incident.status == "open" and incident.trigger == "reach"
    assert deliveries_and_alerts(listener) == [("incident.opened", incident.severity)]
    with listener.store._read() as conn:
        detail = q.get_incident(conn, incident.id)
    assert len(detail.mention_ids) == 1
    assert [e["action"] for e in detail.timeline] == ["opened"]


def test_new_mentions_join_and_each_severity_level_alerts_once(
    settings: Settings, opened: list[Listener]
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    ingest(listener, clock, [post(T0 + timedelta(minutes=2), 0, followers=2_000_000)])
    for batch in range(6):
        at = T0 + timedelta(minutes=3 + batch)
        ingest(listener, clock, [post(at, 10 * batch + i + 1) for i in range(10)])
    [incident] = incidents(listener)
    assert incident.mention_count == 62
    kinds = deliveries_and_alerts(listener)
    assert kinds[0][0] == "incident.opened"
    levels = [severity for kind, severity in kinds[1:]]
    assert len(levels) == len(set(levels)), "one alert per level, never one per mention"
    assert kinds[-1][1] == incident.severity
    with listener.store._read() as conn:
        amplifiers = q.get_incident(conn, incident.id).amplifiers
    assert amplifiers[0] == {
        "author": "user0",
        "followers": 2_000_000,
        "reach_known": True,
        "posts": 1,
        "source": "x",
    }


def test_detection_carries_on_after_a_restart(settings: Settings, opened: list[Listener]) -> None:
    clock = ReplayClock(T0)
    first = start(settings, clock, opened)
    ingest(first, clock, [news(T0)])
    first.close()
    opened.remove(first)
    clock2 = ReplayClock(T0 + timedelta(minutes=5))
    second = start(settings, clock2, opened)
    ingest(second, clock2, [post(T0 + timedelta(minutes=5), 1)])
    [incident] = incidents(second)
    assert incident.mention_count == 2
    with second.store._read() as conn:
        state = q.lock_state(conn, "O2", clock2.now())
    assert state is not None and state["bucket"] > 0


def test_running_the_step_again_on_the_same_mentions_changes_nothing(
    settings: Settings, opened: list[Listener]
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    clock.advance_to(T0)
    report = listener.pipeline.ingest([news(T0), post(T0, 1)])
    tracker = IncidentTracker(settings, listener.store)
    tracker(report.stored, T0)
    [incident] = incidents(listener)
    assert incident.mention_count == 2
    assert len(deliveries_and_alerts(listener)) == 1


def test_a_quiet_incident_resolves_itself(settings: Settings, opened: list[Listener]) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    resolve = next(j for j in listener.jobs if j.id == "incidents.resolve")
    clock.advance_to(T0 + timedelta(hours=1, minutes=59))
    assert resolve.run() == []
    clock.advance_to(T0 + timedelta(hours=2, minutes=1))
    [resolved_id] = resolve.run()  # type: ignore[misc]
    [incident] = incidents(listener)
    assert incident.id == resolved_id and incident.status == "resolved"
    # The next mention of the story starts a new incident rather than waking the old one.
    ingest(listener, clock, [post(T0 + timedelta(hours=3), 9, followers=2_000_000)])
    assert sorted(i.status for i in incidents(listener)) == ["open", "resolved"]


def test_acknowledge_close_and_merge_are_audited_and_checked(
    settings: Settings, opened: list[Listener]
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    ingest(
        listener,
        clock,
        [
            Mention(
                source="x",
                external_id="outage-1",
                text="O2 network down for everyone? no signal since noon, outage",
                author="who",
                author_followers=900_000,
                published_at=T0 + timedelta(minutes=10),
                source_kind="x",
            )
        ],
    )
    first, second = sorted(incidents(listener), key=lambda i: i.id)
    at = T0 + timedelta(hours=1)
    with listener.store._write() as conn:
        q.acknowledge(conn, first.id, actor="alice", at=at)
    with pytest.raises(InvalidTransition), listener.store._write() as conn:
        q.acknowledge(conn, first.id, actor="alice", at=at)
    with listener.store._write() as conn:
        merged = q.merge(conn, second.id, first.id, actor="bob", at=at)
    assert merged.mention_count == 2
    with listener.store._write() as conn:
        q.close(conn, first.id, actor="carol", at=at, reason="statement published")
    with listener.store._read() as conn:
        actions = [e["action"] for e in q.timeline(conn, first.id)]
        moved = q.get_incident(conn, second.id)
        with pytest.raises(NotFound):
            q.get_incident(conn, 999)
    assert actions == ["opened", "acknowledged", "absorbed", "closed"]
    assert moved.incident.status == "merged" and moved.incident.merged_into == first.id
    assert moved.mention_ids == []
    audit = [r.action for r in reversed(listener.store.audit()) if r.entity == "incident"]
    assert audit == ["incident.acknowledged", "incident.merged", "incident.closed"]
    assert listener.store.verify_audit().ok


def test_only_incidents_of_one_brand_merge(settings: Settings, opened: list[Listener]) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    ingest(
        listener,
        clock,
        [
            Mention(
                source="x",
                external_id="sky",
                text="Skyline Air leaked passenger data, passport numbers exposed in a breach",
                author="airnews",
                author_followers=500_000,
                published_at=T0 + timedelta(minutes=1),
                source_kind="x",
            )
        ],
    )
    o2, sky = sorted(incidents(listener), key=lambda i: i.brand)
    with pytest.raises(InvalidTransition, match="same brand"), listener.store._write() as conn:
        q.merge(conn, sky.id, o2.id, actor="bob", at=T0)


def test_mentions_stored_while_the_step_did_not_run_are_caught_up(
    settings: Settings, opened: list[Listener]
) -> None:
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [post(T0, 1, text="O2 shop visit today, all fine")])
    # A batch stored without the step (as when the step failed, or another instance's batch
    # committed in between): the next batch's step reads it back first.
    scorer_items = listener.pipeline.scorer.score_batch([news(T0 + timedelta(minutes=1))])
    listener.store.ingest(
        [IngestItem(news(T0 + timedelta(minutes=1)), "O2", "O2", scorer_items[0])],
        at=T0 + timedelta(minutes=1),
    )
    ingest(listener, clock, [post(T0 + timedelta(minutes=2), 2)])
    [incident] = incidents(listener)
    assert incident.first_mention_at == T0 + timedelta(minutes=1)
    assert incident.mention_count == 2


def test_a_state_written_by_another_instance_meanwhile_is_read_again(
    settings: Settings, opened: list[Listener]
) -> None:
    """The step keeps its last saved state in memory; another instance's save (at the same
    clock time) must be noticed, or its mentions would be joined a second time."""
    clock = ReplayClock(T0)
    listener = start(settings, clock, opened)
    ingest(listener, clock, [news(T0)])
    other_instance = IncidentTracker(settings, listener.store)
    score = listener.pipeline.scorer.score_batch([post(T0, 1)])[0]
    stored = listener.store.ingest([IngestItem(post(T0, 1), "O2", "O2", score)], at=T0)
    other_instance(stored, T0)
    ingest(listener, clock, [post(T0, 2)])
    [incident] = incidents(listener)
    assert incident.mention_count == 3
    with listener.store._read() as conn:
        assert len(q.mention_ids(conn, incident.id)) == 3
