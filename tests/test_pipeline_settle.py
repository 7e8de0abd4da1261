"""A crash between storing a batch and its after-store steps loses nothing: steps run later."""

from collections.abc import Callable
from datetime import timedelta

from listener.app import make_listener
from listener.domain import Mention
from listener.settings import Settings
from listener.store import IngestItem
from listener.store.outreach import blocked, list_cases


def test_unsettled_mentions_get_their_opt_out_and_case_after_a_crash(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    listener = make_listener(make_settings(database={"url": db_url}), environ={})
    try:
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
        assert len(listener.store.unsettled(fetched_before=listener.clock.now())) == 2

        assert listener.pipeline.settle_pending() == 2

        with listener.store.read() as conn:
            assert blocked(conn, "O2", ["ann"]) is not None
            assert any(case.author == "bob" for case in list_cases(conn, brand="O2"))
        assert listener.store.unsettled(fetched_before=listener.clock.now()) == []
        assert listener.pipeline.settle_pending() == 0
    finally:
        listener.close()


def test_a_normal_batch_is_settled_at_once(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    listener = make_listener(make_settings(database={"url": db_url}), environ={})
    try:
        report = listener.pipeline.ingest(
            [Mention("x", "1", "@O2 still on hold after 2 hours", author="@cy")]
        )
        assert report.new == 1 and not report.problems
        assert (
            listener.store.unsettled(fetched_before=listener.clock.now() + timedelta(days=1)) == []
        )
    finally:
        listener.close()
