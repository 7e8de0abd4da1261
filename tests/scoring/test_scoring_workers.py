"""Workers give exactly the in-process scores and drafts, and survive a dead worker or service."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from listener.app import make_listener
from listener.domain import Category, Engagement, Mention, Score, Signal, StoredMention
from listener.errors import StoreError
from listener.outreach.drafting import Drafter
from listener.scoring import make_scorer
from listener.scoring.workers import BatchWork, ScoringWorkers, auto_workers, pack, unpack
from listener.settings import Settings
from listener.store.mentions import DRAFT, MENTION, SCORE, UNSETTLED

TEXTS = [
    "@O2 still on hold after 3 hours, this is ridiculous",
    "Thanks Skyline Air for sorting my refund so quickly!",
    "O2 keeps sending me spam texts and they won't stop. STOP means stop",
    "Is O2 down? nothing loads since 9 this morning #fail",
    "Skyline Air leaks passenger phone numbers to every website, report says",
    "how do I change the address on my O2 account?",
    "{{ 7*7 }} <script>alert(1)</script> O2 😡",
    "",
]


def mentions(count: int, prefix: str = "m") -> list[Mention]:
    start = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    return [
        Mention(
            source="import",
            external_id=f"{prefix}{i}",
            text=f"{TEXTS[i % len(TEXTS)]} #{i}",
            author=f"user{i % 37}",
            published_at=start + timedelta(seconds=i),
            source_kind="x",
        )
        for i in range(count)
    ]


@pytest.fixture
def workers(make_settings: Callable[..., Settings]) -> Iterator[ScoringWorkers]:
    settings = make_settings()
    drafter = Drafter(settings.resolve_path(settings.outreach.templates_dir), settings.outreach)
    work = BatchWork(make_scorer(settings.scoring), drafter, settings.brands)
    pool = ScoringWorkers(work, settings, workers=1, min_batch=10)
    assert pool.wait_until_ready(), "the scoring worker did not start"
    yield pool
    pool.close()


def brands_of(batch: list[Mention]) -> list[str]:
    return ["Skyline Air" if "Skyline" in m.text else "O2" for m in batch]


def test_worker_scores_and_drafts_equal_in_process_ones(workers: ScoringWorkers) -> None:
    batch = mentions(200)
    pending = workers.start(batch, brands_of(batch))
    assert pending.future is not None  # it really went to the worker
    scores, plans = workers.result(pending)
    assert (scores, plans) == workers.work.run(batch, brands_of(batch))
    assert any(p is not None for p in plans) and any(p is None for p in plans)


def test_a_small_batch_starts_no_worker_but_uses_a_running_one(
    workers: ScoringWorkers,
) -> None:
    batch = mentions(3)
    idle = ScoringWorkers(workers.work, workers.settings, workers=1, min_batch=10)
    pending = idle.start(batch, brands_of(batch))
    assert pending.future is None and pending.done is not None and not idle.ready()
    idle.close()
    pending = workers.start(batch, brands_of(batch))  # a worker is running: it takes it
    assert pending.future is not None
    assert workers.result(pending) == workers.work.run(batch, brands_of(batch))


def test_a_killed_worker_costs_nothing_but_time(workers: ScoringWorkers) -> None:
    for child in multiprocessing.active_children():
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(timeout=10)
    batch = mentions(50)
    expected = workers.work.run(batch, brands_of(batch))
    assert workers.result(workers.start(batch, brands_of(batch))) == expected  # done here
    assert workers.wait_until_ready()  # and a fresh worker takes the next batches
    pending = workers.start(batch, brands_of(batch))
    assert pending.future is not None and workers.result(pending) == expected


def test_auto_leaves_one_core_to_the_main_process() -> None:
    cores = len(os.sched_getaffinity(0))
    assert auto_workers() == max(0, min(2, cores - 1))


def _stored(make_settings: Callable[..., Settings], workers: int, url: str) -> list[tuple]:
    listener = make_listener(make_settings(database={"url": url}, scoring={"workers": workers}))
    try:
        if listener.pipeline.workers is not None:
            assert listener.pipeline.workers.wait_until_ready()
        # With two workers two batches are scored ahead of the one being stored, so "a"
        # again is checked against the store before "a" is in it: the store's dedup drops it.
        batches = [mentions(300, "a"), mentions(300, "b"), mentions(300, "a"), mentions(40, "c")]
        reports = list(listener.pipeline.ingest_many(batches, actor="import"))
        assert [r.received for r in reports] == [300, 300, 300, 40]
        assert [r.new > 0 for r in reports] == [True, True, False, True]
        assert all(r.new + r.duplicates == r.matched > 0 for r in reports)
        # By external id: PostgreSQL spends sequence numbers on the rows its dedup skips.
        with listener.store._read() as conn:
            scores = conn.execute(
                select(
                    MENTION.c.external_id,
                    SCORE.c.dissatisfaction,
                    SCORE.c.category,
                    SCORE.c.signals,
                )
                .join(MENTION, MENTION.c.id == SCORE.c.mention_id)
                .order_by(MENTION.c.external_id)
            ).all()
            drafts = conn.execute(
                select(MENTION.c.external_id, DRAFT.c.text)
                .join(MENTION, MENTION.c.id == DRAFT.c.mention_id)
                .order_by(MENTION.c.external_id)
            ).all()
        return [tuple(r) for r in scores] + [tuple(r) for r in drafts]
    finally:
        listener.close()


def test_an_import_through_workers_stores_exactly_what_one_process_stores(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    alone = _stored(make_settings, 0, f"sqlite:///{tmp_path / 'alone.db'}")
    assert _stored(make_settings, 1, f"sqlite:///{tmp_path / 'pooled.db'}") == alone
    assert _stored(make_settings, 2, f"sqlite:///{tmp_path / 'two.db'}") == alone


def test_an_import_on_postgresql_stores_exactly_what_sqlite_stores(
    make_settings: Callable[..., Settings], tmp_path: Path, postgres_url: str
) -> None:
    # On PostgreSQL a thread of its own stores each batch while the next is read and matched.
    alone = _stored(make_settings, 0, f"sqlite:///{tmp_path / 'alone.db'}")
    assert _stored(make_settings, 1, postgres_url) == alone


def test_on_postgresql_the_next_batch_is_read_while_one_is_being_stored(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    listener = make_listener(make_settings(database={"url": postgres_url}, scoring={"workers": 0}))
    third_read = threading.Event()
    waited: list[bool] = []

    class WaitForTheThirdBatch:
        name = "wait"

        def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
            if not waited:  # storing the first batch: is the third being read meanwhile?
                waited.append(third_read.wait(10))

    def batches() -> Iterator[list[Mention]]:
        yield mentions(50, "a")
        yield mentions(50, "b")
        third_read.set()
        yield mentions(50, "c")

    listener.pipeline.after_store.append(WaitForTheThirdBatch())
    try:
        reports = list(listener.pipeline.ingest_many(batches(), actor="import"))
    finally:
        listener.close()
    assert waited == [True], "the first batch was stored before the third was read"
    assert [r.received for r in reports] == [50, 50, 50]
    assert [r.problems for r in reports] == [[], [], []]


def test_on_postgresql_a_batch_is_stored_while_the_one_before_is_settled(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    listener = make_listener(make_settings(database={"url": postgres_url}, scoring={"workers": 0}))
    overlapped: list[bool] = []

    def second_batch_stored() -> bool:
        with listener.store._read() as conn:
            return (
                conn.execute(select(MENTION.c.id).where(MENTION.c.external_id == "b0")).first()
                is not None
            )

    class WaitForTheNextBatchThenFailOnIt:
        name = "wait"

        def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
            ids = {s.mention.external_id for s in stored}
            if "a0" in ids:  # settling the first batch: is the second being stored meanwhile?
                deadline = time.monotonic() + 10
                while not second_batch_stored() and time.monotonic() < deadline:
                    time.sleep(0.02)
                overlapped.append(second_batch_stored())
            if "b0" in ids:
                raise StoreError("the case table is locked")

    listener.pipeline.after_store.append(WaitForTheNextBatchThenFailOnIt())
    try:
        reports = list(
            listener.pipeline.ingest_many(
                [mentions(50, "a"), mentions(50, "b"), mentions(50, "c")], actor="import"
            )
        )
        with listener.store._read() as conn:
            unsettled = conn.execute(select(UNSETTLED.c.mention_ids)).scalars().all()
            b_ids = (
                conn.execute(select(MENTION.c.id).where(MENTION.c.external_id.startswith("b")))
                .scalars()
                .all()
            )
    finally:
        listener.close()
    assert overlapped == [True], "the second batch waited for the first one's after-store steps"
    # Each batch's report carries its own steps' problems, in the input's order.
    assert [r.received for r in reports] == [50, 50, 50]
    assert [r.problems for r in reports] == [[], ["wait: the case table is locked"], []]
    # Only the batch whose step failed is left for `settle_pending` to run again.
    assert [sorted(ids) for ids in unsettled] == [sorted(b_ids)]


def test_on_postgresql_stopping_an_import_early_still_settles_what_was_stored(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    listener = make_listener(make_settings(database={"url": postgres_url}, scoring={"workers": 0}))
    settled: list[str] = []

    class Record:
        name = "record"

        def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
            time.sleep(0.2)  # still settling when the caller stops
            settled.append(stored[0].mention.external_id)

    listener.pipeline.after_store.append(Record())
    try:
        imported = listener.pipeline.ingest_many([mentions(20, p) for p in "abcd"], actor="import")
        first = next(imported)
        imported.close()
        with listener.store._read() as conn:
            stored = conn.execute(select(MENTION.c.external_id)).scalars().all()
            unsettled = conn.execute(select(UNSETTLED.c.id)).scalars().all()
    finally:
        listener.close()
    assert first.new == first.matched > 0
    # Every batch that reached the store had its steps run before `close` returned.
    assert sorted(settled) == sorted({e[0] + "0" for e in stored}) and len(settled) >= 2
    assert unsettled == []


_PARENT = """
import sys
from listener.scoring import make_scorer
from listener.scoring.workers import BatchWork, ScoringWorkers
from listener.settings import validate_settings
import multiprocessing
settings = validate_settings({"brands": [{"name": "O2", "terms": ["O2"]}],
                              "outreach": {"enabled": False}})
work = BatchWork(make_scorer(settings.scoring), None, settings.brands)
pool = ScoringWorkers(work, settings, workers=1)
assert pool.wait_until_ready()
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
sys.stdin.read()
"""


def test_a_worker_does_not_outlive_a_killed_service() -> None:
    import subprocess
    import sys
    import time

    with subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers, "the parent started no worker"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in workers if _running(pid)]
    assert not alive, f"worker(s) {alive} outlived their killed parent"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie has exited already
        return handle.read().split()[2] != "Z"


def test_ctrl_c_stops_the_service_without_a_worker_traceback() -> None:
    import subprocess
    import sys
    import time

    with subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    ) as parent:
        assert parent.stdout is not None and parent.stderr is not None
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers, "the parent started no worker"
        os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
        parent.wait(timeout=20)
        errors = parent.stderr.read()
    assert "SpawnProcess" not in errors, errors
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)


def test_a_score_crosses_to_the_worker_and_back_as_plain_tuples() -> None:
    score = Score(
        0.7, True, 0.1, Category.COMPLAINT, None, (Signal("cue", 0.5), Signal("mood", -0.25)), "v"
    )
    packed = pack(score)
    assert [type(s) for s in packed[5]] == [tuple, tuple]  # pickled as data, not class calls
    back = unpack(pickle.loads(pickle.dumps(packed)))
    assert back == score
    assert [type(s) for s in back.signals] == [Signal, Signal]
    assert back.signals[1].name == "mood" and str(back.signals[1]) == "mood -0.25"


def test_a_mention_crosses_to_a_worker_unchanged() -> None:
    # Mentions pickle as their field values (see Mention.__reduce__): every field, in order.
    at = datetime(2026, 3, 6, 9, 41, tzinfo=UTC)
    mention = Mention(
        source="x-main",
        external_id="1234",
        text="@Acme {{ 7*7 }} <b>still down</b> 😡",
        title="Acme outage",
        url="https://x.example/u/status/1234",
        author="u",
        author_name="U",
        author_followers=12_000,
        author_verified=True,
        author_email="u@example.org",
        published_at=at,
        fetched_at=at + timedelta(seconds=5),
        lang="en",
        engagement=Engagement(replies=1, reposts=2, likes=3, quotes=4),
        source_kind="x",
        in_reply_to="999",
    )
    back = pickle.loads(pickle.dumps(mention))
    assert back == mention
    assert back.engagement == Engagement(1, 2, 3, 4)
