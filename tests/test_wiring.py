"""`make_listener` is the one wiring place: replies and alerts go through what a caller passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from listener.alerts.channel import OutgoingAlert
from listener.app import make_listener
from listener.clock import ReplayClock
from listener.domain import Channel, Draft, Mention
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from listener.store import DraftFilter, MentionFilter
from tests.support.outreach import NOW, UnhappyScorer, email_mention


class RecordingPublisher:
    """Publishes nothing anywhere; remembers what it was asked to publish."""

    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.published: list[tuple[int, str]] = []

    def publish(self, draft: Draft, mention: Mention) -> str:
        self.published.append((draft.id, mention.external_id))
        return f"recorded-{draft.id}"

    def close(self) -> None:
        pass


class RecordingChannel:
    name = "responders"

    def __init__(self) -> None:
        self.sent: list[OutgoingAlert] = []

    def send(self, alert: OutgoingAlert) -> None:
        self.sent.append(alert)

    def close(self) -> None:
        pass


def test_replies_go_out_through_the_publisher_passed_to_the_factory(
    make_settings: Callable[..., Settings],
) -> None:
    publisher = RecordingPublisher()
    channel = RecordingChannel()
    listener = make_listener(
        make_settings(),
        scorer=UnhappyScorer(),
        clock=ReplayClock(NOW),
        sources=[],
        environ={},
        publishers={Channel.EMAIL: publisher},
        channels={channel.name: channel},
    )
    try:
        listener.pipeline.ingest([email_mention(1, "dana@example.com")], now=NOW)
        [draft] = listener.store.drafts(DraftFilter(status="pending"), limit=10)
        assert draft.channel == Channel.EMAIL
        listener.store.review(draft.id, ReviewAction.APPROVE, actor="ann", at=NOW)

        assert listener.replies is not None
        report = listener.replies.run_once()

        assert report.sent == {draft.id: f"recorded-{draft.id}"}
        assert publisher.published == [(draft.id, "mail-1")]
        assert listener.alerts is not None and listener.alerts.channels == {channel.name: channel}
    finally:
        listener.close()


def test_sources_read_the_time_from_the_listeners_clock(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        "<rss version='2.0'><channel><title>t</title><item><guid>a1</guid>"
        "<title>O2 billed me twice</title><link>https://blog.example/a1</link>"
        "<description>O2 billed me twice this month</description></item></channel></rss>",
        encoding="utf-8",
    )
    settings = make_settings(sources=[{"name": "blog", "kind": "feed", "url": str(feed)}])
    then = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    listener = make_listener(settings, scorer=UnhappyScorer(), clock=ReplayClock(then), environ={})
    try:
        [report] = listener.poll("blog")
        assert report.new == 1, report
        [stored] = listener.store.mentions(MentionFilter(), limit=10)
        # The item carries no date: the fetch time stands in, and it is the listener's time.
        assert stored.mention.fetched_at == then
        assert stored.mention.published_at == then
    finally:
        listener.close()
