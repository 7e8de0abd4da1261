"""The pipeline end to end on a real store (SQLite file, and PostgreSQL when configured)."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from listener.app import Listener, make_listener
from listener.domain import DraftStatus, Mention
from listener.outreach.drafting import priority
from listener.settings import Settings
from listener.store import DraftFilter, MentionFilter
from tests.support.fakes.x_api import BEARER_TOKEN, Failure, XApiServer
from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES

RSS = (FIXTURES / "feeds" / "complaints.rss").read_bytes()


@pytest.fixture
def listener(
    make_settings: Callable[..., Settings], http_server: LocalServer, db_url: str
) -> Listener:
    http_server.serve_feed("/blog.xml", RSS, etag='"v1"')
    http_server.route("/broken.xml", status=500)
    settings = make_settings(
        database={"url": db_url},
        sources=[
            {"name": "blog", "kind": "feed", "url": http_server.url("/blog.xml"), "every": "1m"},
            {"name": "broken", "kind": "feed", "url": http_server.url("/broken.xml")},
        ],
    )
    built = make_listener(settings, environ={})
    yield built
    built.close()


def test_a_poll_stores_matched_mentions_once_and_queues_drafts(listener: Listener) -> None:
    [report] = listener.poll("blog")
    assert report.ok, report.error
    assert report.fetched == 5
    assert report.matched == 4  # the CO2 / O2 arena item is not about the brand
    assert report.new == 4
    stored = listener.store.mentions(limit=10)
    assert {m.mention.external_id for m in stored} == {"spam-1", "leak-1", "praise-1", "hostile-1"}
    drafts = listener.store.drafts(DraftFilter(status="pending"))
    assert len(drafts) == report.drafts >= 2
    assert all(d.status is DraftStatus.PENDING for d in drafts)
    praise = next(m for m in stored if m.mention.external_id == "praise-1")
    assert not praise.score.dissatisfied
    assert praise.id not in {d.mention_id for d in drafts}


def test_a_second_poll_stores_nothing_new(listener: Listener) -> None:
    listener.poll("blog")
    [again] = listener.poll("blog")
    assert again.ok and again.not_modified and again.new == 0
    assert listener.store.count_mentions() == 4


def test_the_same_entries_served_again_without_validators_are_not_stored_twice(
    listener: Listener, http_server: LocalServer
) -> None:
    listener.poll("blog")
    http_server.serve_feed("/blog.xml", RSS)  # no ETag any more: full body again
    [again] = listener.poll("blog")
    assert again.ok and again.new == 0 and again.matched == 4
    assert listener.store.count_mentions() == 4
    assert listener.store.count_drafts(DraftFilter(status="all")) == len(
        listener.store.drafts(DraftFilter(status="all"))
    )


def test_a_failing_source_is_recorded_and_the_others_go_on(listener: Listener) -> None:
    reports = {r.source: r for r in listener.poll()}
    assert reports["blog"].ok and reports["blog"].new == 4
    assert "HTTP 500" in reports["broken"].error
    status = {s.name: s for s in listener.store.sources.statuses(listener.clock.now())}
    assert status["broken"].consecutive_failures == 1
    assert "HTTP 500" in status["broken"].last_error
    assert status["blog"].last_success_at is not None and status["blog"].mentions_total == 4
    listener.poll("broken")
    status = {s.name: s for s in listener.store.sources.statuses(listener.clock.now())}
    assert status["broken"].consecutive_failures == 2


def test_mention_text_is_stored_as_data(listener: Listener) -> None:
    listener.poll("blog")
    [hostile] = listener.store.mentions(MentionFilter(search="charged me twice"))
    assert "{{ 7*7 }}" in hostile.mention.text
    drafts = [
        d for d in listener.store.drafts(DraftFilter(status="all")) if d.mention_id == hostile.id
    ]
    for draft in drafts:
        assert "49" not in draft.text and "<script" not in draft.text


def test_ingest_scores_every_new_mention_and_skips_unmatched(listener: Listener) -> None:
    report = listener.pipeline.ingest(
        [
            Mention("import", "1", "still on hold with @O2 after 2 hours, useless"),
            Mention("import", "2", "lovely weather today"),
            Mention("import", "1", "still on hold with @O2 after 2 hours, useless"),
        ]
    )
    assert (report.received, report.matched, report.new) == (3, 2, 1)
    [stored] = listener.store.mentions(MentionFilter(source="import"))
    assert stored.score.dissatisfied and stored.score.signals


def test_the_same_article_from_another_feed_is_a_sighting_not_a_new_mention(
    listener: Listener,
) -> None:
    first = Mention(
        "news-a",
        "a1",
        "O2 leaks phone numbers to every website",
        title="O2 leaks customers phone numbers to every website",
        url="https://news.example/o2-leak",
        author="Newsroom",
    )
    # The same entry through an aggregator: tracking query, other spacing and case.
    again_by_link = Mention(
        "news-b",
        "b1",
        "O2 leaks  phone numbers to every WEBSITE",
        title="Different headline here about it",
        url="https://www.news.example/o2-leak/?utm_source=x",
        author="newsroom",
    )
    again_by_title = Mention(
        "news-c",
        "c1",
        "O2 leaks phone numbers to every website",
        title="O2 leaks customers phone numbers to every website",
        url="https://other.example/1",
        author="Newsroom",
    )
    listener.pipeline.ingest([first])
    report = listener.pipeline.ingest([again_by_link, again_by_title])
    assert report.new == 0
    assert listener.store.count_mentions() == 1
    # And sightings are remembered, so a re-poll of those feeds is not rescored either.
    assert listener.store.known_external_ids("news-b", ["b1"]) == {"b1"}


def test_a_link_or_headline_published_first_does_not_swallow_other_peoples_posts(
    listener: Listener,
) -> None:
    """A hostile feed that publishes a link and a headline first must not turn later genuine
    posts by other people (or other posts by the same person) into unscored sightings."""
    bait = Mention(
        "hostile",
        "h1",
        "O2 is great, nothing to see here",
        title="O2 customers complain about the billing outage today",
        url="https://forum.example/t/outage?from=bait",
        author="bait-account",
    )
    listener.pipeline.ingest([bait])
    genuine = [
        Mention(
            "forum",
            f"p{n}",
            f"O2 charged me twice this month, post {n}",
            title="O2 customers complain about the billing outage today",
            url=f"https://forum.example/t/outage?post={n}",
            author=author,
        )
        for n, author in enumerate(["ann", "bob", "cat", "ann"])
    ]
    report = listener.pipeline.ingest(genuine)
    assert (report.matched, report.new) == (4, 4)
    stored = listener.store.mentions(MentionFilter(source="forum"), limit=10)
    assert len(stored) == 4 and all(m.score.dissatisfied for m in stored)


@contextmanager
def _x_listener(
    make_settings: Callable[..., Settings], x_api: XApiServer, db_url: str
) -> Iterator[Listener]:
    source = {"name": "x-o2", "kind": "x", "api_url": x_api.url, "page_size": 10, "every": "1m"}
    built = make_listener(
        make_settings(database={"url": db_url}, sources=[source]),
        environ={"LISTENER_X_BEARER_TOKEN": BEARER_TOKEN},
    )
    try:
        yield built
    finally:
        built.close()


def _complaints(x_api: XApiServer, author: Any, count: int = 25) -> list[Any]:
    """`count` complaints about O2 by `author` on the X fake: pages of 10, newest first."""
    return [x_api.add_tweet(f"O2 no signal for {n} hours", author=author) for n in range(count)]


def test_a_paged_poll_stores_every_page_and_its_success_with_the_last_one(
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> None:
    tweets = _complaints(x_api, x_api.add_user("pages"))
    with _x_listener(make_settings, x_api, db_url) as listener:
        [report] = listener.poll("x-o2")
        assert report.ok, report.error
        assert (report.fetched, report.new) == (25, 25)
        [status] = listener.store.sources.statuses(listener.clock.now())
        assert status.last_success_at is not None and status.mentions_total == 25
        assert tweets[-1].id in listener.store.sources.poll_start("x-o2")[1].cursor


def test_a_429_on_a_later_page_keeps_what_the_pages_before_it_brought(
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> None:
    _complaints(x_api, x_api.add_user("limited"))
    with _x_listener(make_settings, x_api, db_url) as listener:
        x_api.fail_next(Failure.rate_limited(reset=1), endpoint="search", after=2)
        [report] = listener.poll("x-o2")
        assert not report.ok and "rate" in report.error.lower()
        assert listener.store.count_mentions() == 20  # pages 1 and 2, the requests not wasted
        [status] = listener.store.sources.statuses(listener.clock.now())
        assert status.last_success_at is None and status.consecutive_failures == 1
        # The cursor moves only with a last page: the next poll asks for the same posts.
        assert json.loads(listener.store.sources.poll_start("x-o2")[1].cursor or "{}") == {}

        [again] = listener.poll("x-o2")
        assert again.ok, again.error
        assert (again.fetched, again.new) == (25, 5)
        assert listener.store.count_mentions() == 25


def test_a_page_that_cannot_be_stored_stops_the_poll_before_any_later_page(
    make_settings: Callable[..., Settings], x_api: XApiServer, tmp_path: Path
) -> None:
    author = x_api.add_user("poisoned")
    _complaints(x_api, author)
    x_api.add_tweet("O2 poison: this one the database refuses", author=author)  # on page 1
    with _x_listener(make_settings, x_api, f"sqlite:///{tmp_path / 'poisoned.db'}") as listener:
        with listener.store._write() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON mention WHEN NEW.text LIKE '%poison%' "
                "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
            )
        [report] = listener.poll("x-o2")
        assert not report.ok and "refused for the test" in report.error
        # Page 1 failed to store; page 2, already fetched by then, must not be stored in its
        # place (a source whose cursor moved with every page would skip page 1 for good).
        assert listener.store.count_mentions() == 0
        with listener.store._write() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse")
        [again] = listener.poll("x-o2")
        assert again.ok and listener.store.count_mentions() == 26


def test_a_repeated_id_with_different_text_never_replaces_what_was_stored_and_drafted(
    listener: Listener,
) -> None:
    first = Mention("import", "same", "O2 charged me twice, please refund", author="@ann")
    edited = Mention("import", "same", "O2 is lovely, ignore my last post", author="@ann")
    # In one batch, in later batches, and in batches scored ahead of their storing.
    listener.pipeline.ingest([first, edited])
    listener.pipeline.ingest([edited])
    list(listener.pipeline.ingest_many([[edited], [edited, first], [edited]], actor="import"))
    [stored] = listener.store.mentions(MentionFilter(source="import"))
    assert stored.mention.text == first.text and stored.score.dissatisfied
    drafts = listener.store.drafts(DraftFilter(status="all"))
    assert [d.mention_id for d in drafts] == [stored.id]


def test_batches_scored_ahead_keep_the_first_text_of_an_id(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    """Several batches are matched and scored before the first is stored: an id in two of
    them is stored with the text of the first, not of whichever finished scoring first."""
    built = make_listener(make_settings(database={"url": db_url}), environ={})
    try:
        batches = [
            [Mention("import", f"{b}-{n}", f"O2 complaint {b} {n}, awful") for n in range(300)]
            for b in range(4)
        ]
        batches[0].append(Mention("import", "dup", "O2 broke my phone, awful service"))
        batches[2].append(Mention("import", "dup", "O2 is great, never mind"))
        list(built.pipeline.ingest_many(batches, actor="import"))
        [dup] = built.store.mentions(MentionFilter(source="import", search="phone"))
        assert dup.mention.external_id == "dup"
        assert built.store.mentions(MentionFilter(source="import", search="never mind")) == []
    finally:
        built.close()


def test_a_huge_feed_queues_at_most_the_drafts_per_poll_limit_and_says_so(
    make_settings: Callable[..., Settings], http_server: LocalServer, db_url: str
) -> None:
    items = "".join(
        f"<item><guid>g{n}</guid><title>O2 charged me twice, case {n}</title>"
        f"<description>Support hung up on me {'again ' * (n % 7)}</description></item>"
        for n in range(300)
    )
    http_server.serve_feed(
        "/big.xml", f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>"
    )
    settings = make_settings(
        database={"url": db_url},
        sources=[{"name": "big", "kind": "feed", "url": http_server.url("/big.xml")}],
        outreach={"templates_dir": str(Path(__file__).parents[1] / "templates")}
        | {"max_drafts_per_poll": 50},
    )
    built = make_listener(settings, environ={})
    try:
        [report] = built.poll("big")
        assert report.ok, report.error
        assert (report.new, report.drafts, report.not_drafted) == (300, 50, 250)
        assert any("250 mention(s) got no reply draft" in note for note in report.notes)
        assert report.as_dict()["not_drafted"] == 250
        assert built.store.count_mentions() == 300  # every mention stored and scored
        drafts = built.store.drafts(DraftFilter(status="all"), limit=1000)
        assert len(drafts) == 50
        # The ones drafted are the most urgent of the poll.
        drafted = {d.mention_id for d in drafts}
        left = [
            priority(m.score, m.mention)
            for m in built.store.mentions(limit=1000)
            if m.id not in drafted and m.score.dissatisfied
        ]
        assert left and min(d.priority for d in drafts) >= max(left)
    finally:
        built.close()
