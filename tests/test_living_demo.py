"""The bundled demo is alive on any day: its feeds are dated from now when read, so a run in
a far-off year still shows open incidents, a queue and charts with data."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.app import make_listener
from listener.clock import ReplayClock
from listener.domain import Mention, PollState
from listener.settings import load_settings
from listener.sources.feed import FeedSource, dated_from
from listener.store import DraftFilter
from listener.store import desk as desk_store
from listener.web import incident_data
from tests.support.paths import REPO

FAR_OFF = datetime(2031, 5, 17, 14, 3, tzinfo=UTC)


def demo_listener(tmp_path: Path, clock: ReplayClock, *, anchored: bool = True):
    env = {
        "LISTENER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "LISTENER_SCORING__WORKERS": "0",
        "LISTENER_SERVICE__FETCH_WORKER": "false",
    }
    settings = load_settings(REPO / "settings.toml", environ=env)
    if not anchored:
        for source in settings.sources:
            object.__setattr__(source, "dates_anchor", None)
    return make_listener(settings, clock=clock, environ=env)


def run_for(listener, clock: ReplayClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance_to(clock.now() + timedelta(minutes=1))
        for job in listener.jobs:
            job.run()


@pytest.mark.parametrize("anchored", [True, False])
def test_the_demo_shows_open_incidents_a_queue_and_chart_data_years_later(
    tmp_path: Path, anchored: bool
) -> None:
    clock = ReplayClock(FAR_OFF)
    listener = demo_listener(tmp_path, clock, anchored=anchored)
    try:
        reports = listener.poll()
        assert all(not r.error for r in reports) and sum(r.new for r in reports) >= 8
        run_for(listener, clock, 2)
        incidents = [i for i in incident_data.board_json(listener) if i["status"] == "open"]
        queue = listener.store.drafts(DraftFilter(status="pending"))
        with listener.store._read() as conn:
            points = desk_store.volume_series(
                conn, since=clock.now() - timedelta(days=7), until=clock.now(), bucket_seconds=3600
            )
        newest = max(m.mention.published_at for m in listener.store.mentions())
    finally:
        listener.close()
    if not anchored:
        # The files' fixed dates are years old by then: that is the demo this replaces.
        assert incidents == [] and sum(p.total for p in points) == 0
        return
    assert len(incidents) >= 2
    assert queue
    assert sum(p.total for p in points) >= 8
    assert timedelta(0) <= clock.now() - newest <= timedelta(minutes=10)


def test_dates_move_together_and_entries_after_the_anchor_are_left_out() -> None:
    anchor = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    entries = [
        Mention("s", str(i), "t", published_at=anchor + timedelta(minutes=offset))
        for i, offset in enumerate((-90, -5, 30))
    ]
    moved = dated_from(entries, anchor, FAR_OFF)
    assert [m.published_at for m in moved] == [
        FAR_OFF - timedelta(minutes=90),
        FAR_OFF - timedelta(minutes=5),
    ]


def test_a_real_feed_keeps_its_own_dates(tmp_path: Path) -> None:
    feed = tmp_path / "f.atom"
    feed.write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<entry><title>a</title><id>urn:1</id><updated>2020-01-02T03:04:05Z</updated>"
        "<content>O2 again</content></entry></feed>"
    )
    source = FeedSource("f", str(feed), clock=ReplayClock(FAR_OFF))
    (batch,) = source.fetch(PollState())
    assert batch.mentions[0].published_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
