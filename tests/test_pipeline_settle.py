"""A crash between storing a batch and its after-store steps loses nothing: steps run later."""

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from listener.app import Listener, make_listener
from listener.domain import IngestItem, Mention
from listener.settings import Settings
from listener.store import DraftFilter
from listener.store.cases import list_cases
from listener.store.contacts import blocked
from listener.store.engine import make_engine, migrate
from tests.support.paths import REPO


@pytest.fixture
def listen(
    make_settings: Callable[..., Settings], db_url: str
) -> Iterator[Callable[..., Listener]]:
    """Listeners on the test database, with settings overrides; each closed at the end."""
    opened: list[Listener] = []

    def build(**overrides: Any) -> Listener:
        settings = make_settings(database={"url": db_url}, **overrides)
        opened.append(make_listener(settings, environ={}))
        return opened[-1]

    yield build
    for listener in opened:
        listener.close()


def test_unsettled_mentions_get_their_opt_out_and_case_after_a_crash(
    listen: Callable[..., Listener],
) -> None:
    listener = listen()
    stop = Mention("x", "1", "@O2 STOP messaging me", author="@ann", source_kind="x")
    angry = Mention(
        "x",
        "2",
        "@O2 charged me twice and support hung up on me",
        author="@bob",
        source_kind="x",
    )
    scores = listener.pipeline.scorer.score_batch([stop, angry])
    # What a crash right after the batch's commit leaves behind: stored, steps never run.
    items = [IngestItem(m, "O2", "@O2", s) for m, s in zip([stop, angry], scores, strict=True)]
    listener.store.ingest(items, at=listener.clock.now() - timedelta(minutes=5))
    [batch] = listener.store.unsettled(stored_before=listener.clock.now())
    assert len(batch.mentions) == 2

    assert listener.pipeline.settle_pending() == 2

    with listener.store._read() as conn:
        assert blocked(conn, "O2", ["ann"]) is not None
        assert any(case.author == "bob" for case in list_cases(conn, brand="O2"))
    assert listener.store.unsettled(stored_before=listener.clock.now()) == []
    assert listener.pipeline.settle_pending() == 0


def test_a_normal_batch_is_settled_at_once(listen: Callable[..., Listener]) -> None:
    listener = listen()
    report = listener.pipeline.ingest(
        [Mention("x", "1", "@O2 still on hold after 2 hours", author="@cy")]
    )
    assert report.new == 1 and not report.problems
    assert listener.store.unsettled(stored_before=listener.clock.now() + timedelta(days=1)) == []


def test_mentions_left_unsettled_before_the_upgrade_are_still_settled(
    listen: Callable[..., Listener], db_url: str
) -> None:
    """Migration 0008 turns the old per-mention flag into batches the service settles."""
    engine = make_engine(db_url)
    migrate(engine, "0007")
    at = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for n, (author, text) in enumerate(
            [("@ann", "@O2 STOP messaging me"), ("@cy", "@O2 lovely service")], start=1
        ):
            conn.execute(
                sql(
                    "INSERT INTO mention (source, external_id, source_kind, brand, matched_term,"
                    " text, title, url, author, author_name, author_email, published_at,"
                    " fetched_at, lang, replies, reposts, likes, quotes, in_reply_to, story_key,"
                    " title_key, settled) VALUES ('x', :id, 'x', 'O2', '@O2', :text, '', '',"
                    " :author, '', '', :at, :at, '', 0, 0, 0, 0, '', '', '', :settled)"
                ),
                {"id": str(n), "text": text, "author": author, "at": at, "settled": n == 2},
            )
            conn.execute(
                sql(
                    "INSERT INTO score (mention_id, dissatisfaction, dissatisfied, incident_risk,"
                    " category, reason, signals, scorer, scored_at) SELECT id, 0.9, :t, 0.1,"
                    " 'spam_complaint', '', '[]', 'test', :at FROM mention WHERE external_id = :id"
                ),
                {"id": str(n), "at": at, "t": True},
            )
    engine.dispose()
    listener = listen()
    [batch] = listener.store.unsettled(stored_before=listener.clock.now())
    assert [m.mention.external_id for m in batch.mentions] == ["1"]
    # Stamped with the upgrade's time: settled once the usual grace period has passed.
    assert listener.pipeline.settle_pending() == 0
    assert listener.pipeline.settle_pending(grace=timedelta(0)) == 1
    with listener.store._read() as conn:
        assert blocked(conn, "O2", ["ann"]) is not None
    assert listener.store.unsettled(stored_before=listener.clock.now()) == []


def test_a_malformed_link_does_not_stop_the_after_store_steps(
    listen: Callable[..., Listener],
) -> None:
    # A feed can carry any string as a link; urlsplit raises on these, and incident detection
    # reads every mention's host, so one such mention used to fail its batch's steps for good.
    listener = listen()
    links = ["http://[::1", "https://[not-an-address]/x", "https://example.org:99999/"]
    report = listener.pipeline.ingest(
        [
            Mention("feed", str(i), "O2 leaked my phone number to every site", url=link)
            for i, link in enumerate(links)
        ]
    )
    assert report.new == len(links) and not report.problems, report.problems
    assert listener.store.unsettled(stored_before=listener.clock.now() + timedelta(days=1)) == []


def test_a_template_that_fails_on_one_mention_costs_only_that_draft(
    listen: Callable[..., Listener], tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    # Fine for the start-up check's sample author (""), a division by zero for a 4-letter one.
    (templates / "outreach" / "complaint.txt.j2").write_text(
        "{{ c.brand }}: {{ 100 // (c.author | length - 4) }}. Reply STOP to opt out."
    )
    listener = listen(outreach={"templates_dir": str(templates)})
    angry = "@O2 charged me twice and support hung up on me"
    report = listener.pipeline.ingest(
        [
            Mention("x", "1", angry, author="@ann", source_kind="x"),
            Mention("x", "2", angry, author="@bobby", source_kind="x"),
        ]
    )
    assert report.new == 2 and report.drafts == 1 and not report.problems
    [draft] = listener.store.drafts(DraftFilter(status="all"), limit=10)
    assert draft.text == "O2: 50. Reply STOP to opt out."  # @bobby's; @ann's failed
