"""Scoring in worker processes, so one core scores the next batch while another stores this one.

Scoring and drafting replies are pure CPU work in Python (VADER, n-gram hashing, Jinja2), so
threads cannot overlap them with storing; processes can. A worker scores a batch and plans
the reply drafts for it (the pipeline still decides, with the do-not-contact list, which
drafts are kept). Only large batches go to the workers (an import, a busy X page): for a feed
poll of a few entries the round trip costs more than doing the work in place.

Scores come back as plain tuples, not `Score` objects: pickling the dataclasses with their
enums cost more than half of what scoring in place would have saved. A worker that dies
(killed, out of memory) costs nothing: its batch is scored in this process and the pool is
started afresh for the next batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from listener._process import (
    exit_with_parent,
    quiet_resource_tracker,
    settle_heap,
    tune_garbage_collector,
    usable_cores,
)
from listener.domain import Category, ComplaintReason, Mention, PlannedDraft, Score, Signal
from listener.scoring.base import Scorer
from listener.settings import BrandSettings, Settings

if TYPE_CHECKING:
    from listener.outreach.drafting import Drafter

log = logging.getLogger("listener.scoring")

PackedScore = tuple[float, bool, float, str, str, tuple[tuple[str, float], ...], str]
PackedDraft = tuple[str, str, str, str, float, str] | None


class BatchWork:
    """What a worker (or this process, for small batches) does with a batch: score every
    mention, and plan the reply each scored mention would get."""

    def __init__(
        self, scorer: Scorer, drafter: Drafter | None, brands: Sequence[BrandSettings]
    ) -> None:
        self.scorer = scorer
        self.drafter = drafter
        self.brands = {b.name: b for b in brands}

    def run(
        self, mentions: Sequence[Mention], brands: Sequence[str]
    ) -> tuple[list[Score], list[PlannedDraft | None]]:
        scores = self.scorer.score_batch(mentions)
        if self.drafter is None:
            return scores, [None] * len(scores)
        plan = self.drafter.plan
        return scores, [
            plan(m, self.brands[b], s) for m, b, s in zip(mentions, brands, scores, strict=True)
        ]


_work: BatchWork | None = None


def auto_workers() -> int:
    """One worker per spare core, at most two: the main process stores at about the rate
    one worker scores, so more would only wait."""
    return max(0, min(2, usable_cores() - 1))


def _start_worker(settings: Settings) -> None:
    global _work
    tune_garbage_collector()
    # Ctrl-C in a terminal reaches the whole process group: the service shuts the workers
    # down itself, so a worker ignores it instead of dying with a traceback mid-shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    from listener.outreach.drafting import Drafter
    from listener.scoring import make_scorer

    outreach = settings.outreach
    drafter = (
        Drafter(
            settings.templates_override(),
            outreach,
            news_domains=settings.incidents.news_domains,
        )
        if outreach.enabled
        else None
    )
    _work = BatchWork(make_scorer(settings.scoring), drafter, settings.brands)
    settle_heap()


# A signal to a plain pair and back, both in C: a Signal pickles as a call to its class, and
# its generated __new__ is Python code; eight of each per mention added up.
_plain_pair = cast(Callable[[Signal], tuple[str, float]], tuple)
_as_signal = cast(Callable[[tuple[str, float]], Signal], partial(tuple.__new__, Signal))


def pack(score: Score) -> PackedScore:
    return (
        score.dissatisfaction,
        score.dissatisfied,
        score.incident_risk,
        score.category.value,
        score.reason.value if score.reason else "",
        tuple(map(_plain_pair, score.signals)),
        score.scorer,
    )


def unpack(packed: PackedScore) -> Score:
    dissatisfaction, dissatisfied, risk, category, reason, signals, scorer = packed
    return Score(
        dissatisfaction,
        dissatisfied,
        risk,
        Category(category),
        ComplaintReason(reason) if reason else None,
        tuple(map(_as_signal, signals)),
        scorer,
    )


def pack_draft(plan: PlannedDraft | None) -> PackedDraft:
    if plan is None:
        return None
    return (plan.channel, plan.template, plan.text, plan.recipient, plan.priority, plan.hold_reason)


def unpack_draft(packed: PackedDraft) -> PlannedDraft | None:
    return None if packed is None else PlannedDraft(*packed)


def _ready_in_worker() -> bool:
    return _work is not None


def _run_in_worker(
    mentions: Sequence[Mention], brands: Sequence[str]
) -> tuple[list[PackedScore], list[PackedDraft]]:
    if _work is None:  # the initializer always runs first; this is a broken pool
        raise RuntimeError("scoring worker started without a scorer")
    scores, plans = _work.run(mentions, brands)
    return [pack(s) for s in scores], [pack_draft(p) for p in plans]


Scored = tuple[list[Score], list[PlannedDraft | None]]


@dataclass
class PendingScores:
    """Scores and draft plans being computed in a worker, or already computed here."""

    mentions: Sequence[Mention]
    brands: Sequence[str]
    future: Future[tuple[list[PackedScore], list[PackedDraft]]] | None = None
    done: Scored | None = None


class ScoringWorkers:
    """A small process pool doing the same `BatchWork` as this process, for large batches."""

    def __init__(
        self, work: BatchWork, settings: Settings, *, workers: int, min_batch: int = 64
    ) -> None:
        self.work = work
        self.settings = settings
        self.workers = workers
        self.min_batch = min_batch
        self._pool: ProcessPoolExecutor | None = None
        self._warming: Future[bool] | None = None
        self._lock = threading.Lock()  # polls on many threads share one pool

    def start(self, mentions: Sequence[Mention], brands: Sequence[str]) -> PendingScores:
        """Begin scoring `mentions` (about `brands`, one each) in a worker, or right here.

        A large batch starts the workers; until one has loaded the model (a second or two),
        batches are done here instead of waiting for it. A small batch goes to a worker only
        when one is already running: one feed poll alone is done faster here, but many polls
        at once (the service, `listener poll` of many sources) get through sooner when their
        scoring leaves this process's interpreter lock free for fetching and storing.
        """
        if self.workers <= 0 or (len(mentions) < self.min_batch and not self.ready()):
            return PendingScores(mentions, brands, done=self.work.run(mentions, brands))
        try:
            pool = self._ensure_pool()
            if not self.ready():
                return PendingScores(mentions, brands, done=self.work.run(mentions, brands))
            future = pool.submit(_run_in_worker, mentions, brands)
            return PendingScores(mentions, brands, future=future)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self._restart(exc)
            return PendingScores(mentions, brands, done=self.work.run(mentions, brands))

    def ready(self) -> bool:
        """A worker is running and has loaded the model."""
        warming = self._warming
        return self._pool is not None and warming is not None and warming.done()

    def result(self, pending: PendingScores) -> Scored:
        """The scores and draft plans, in the batch's order."""
        if pending.done is not None:
            return pending.done
        assert pending.future is not None
        try:
            scores, plans = pending.future.result()
        except (BrokenProcessPool, RuntimeError, OSError, EOFError) as exc:
            self._restart(exc)
            return self.work.run(pending.mentions, pending.brands)
        return [unpack(p) for p in scores], [unpack_draft(p) for p in plans]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Not waiting: a worker still loading the model would hold up shutdown for
            # seconds; it exits on its own once it sees the pool closed.
            pool.shutdown(wait=False, cancel_futures=True)

    def warm_up(self) -> None:
        """Start the workers now, without waiting for them (before a large import)."""
        if self.workers > 0:
            self._ensure_pool()

    def wait_until_ready(self, timeout: float = 60.0) -> bool:
        """Start the workers and wait until one has loaded the model (benchmarks, tests)."""
        if self.workers <= 0:
            return False
        self._ensure_pool()
        warming = self._warming
        try:
            return warming is not None and bool(warming.result(timeout=timeout))
        except Exception:  # a worker that cannot start is reported by the first real batch
            return False

    def _ensure_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is not None:
                return self._pool
            # "spawn": a forked child would inherit this process's threads, locks and open
            # database connections mid-use.
            quiet_resource_tracker()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.settings,),
            )
            self._warming = self._pool.submit(_ready_in_worker)
            return self._pool

    def _restart(self, exc: BaseException) -> None:
        log.warning("a scoring worker failed (%s); scoring here and restarting the workers", exc)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
