"""The processes listener owns collect garbage less often and skip their start-up heap; code
that only imports the package keeps CPython's settings."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from listener import _process as runtime
from listener.outreach.drafting import Drafter
from listener.scoring import make_scorer
from listener.scoring.workers import BatchWork, ScoringWorkers
from listener.settings import Settings

CPYTHON_DEFAULTS = (700, 10, 10)


@pytest.fixture
def collector() -> Iterator[list[int]]:
    """The generations of the collections run meanwhile; this process's settings restored."""
    thresholds, tuned = gc.get_threshold(), runtime._tuned
    generations: list[int] = []

    def observe(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            generations.append(info["generation"])

    gc.callbacks.append(observe)
    try:
        yield generations
    finally:
        gc.callbacks.remove(observe)
        gc.set_threshold(*thresholds)
        runtime._tuned = tuned
        gc.unfreeze()


def allocate_batch_of_objects() -> list[list[int]]:
    """About what storing a few hundred mentions leaves alive for a moment."""
    return [[i] for i in range(10_000)]


def test_young_objects_of_a_batch_set_off_no_collection_once_tuned(
    collector: list[int],
) -> None:
    gc.set_threshold(*CPYTHON_DEFAULTS)
    gc.collect()
    collector.clear()
    kept = allocate_batch_of_objects()
    assert len(collector) >= 10, "CPython's defaults collect every 700 allocations"
    del kept

    runtime.tune_garbage_collector()
    gc.collect()
    collector.clear()
    kept = allocate_batch_of_objects()
    assert collector == []
    assert gc.get_threshold() == (runtime.YOUNG_THRESHOLD, *runtime.OLDER_THRESHOLDS)
    del kept


def test_the_heap_is_frozen_only_in_a_process_that_tuned_its_collector(
    collector: list[int],
) -> None:
    gc.unfreeze()
    runtime._tuned = False
    runtime.settle_heap()
    assert gc.get_freeze_count() == 0, "a test run or embedding program must keep its garbage"

    runtime.tune_garbage_collector()
    runtime.settle_heap()
    assert gc.get_freeze_count() > 1000


def test_the_listener_command_tunes_its_process_before_running_a_command() -> None:
    script = (
        "import gc\n"
        "from listener import cli\n"
        "cli.app = lambda: print(gc.get_threshold())\n"
        "cli.main()\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert shown == str((runtime.YOUNG_THRESHOLD, *runtime.OLDER_THRESHOLDS))


def test_a_scoring_worker_tunes_its_collector_and_freezes_the_loaded_model(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    drafter = Drafter(settings.resolve_path(settings.outreach.templates_dir), settings.outreach)
    work = BatchWork(make_scorer(settings.scoring), drafter, settings.brands)
    workers = ScoringWorkers(work, settings, workers=1)
    try:
        assert workers.wait_until_ready(), "the scoring worker did not start"
        pool = workers._pool
        assert pool is not None
        assert pool.submit(gc.get_threshold).result(timeout=30) == (
            runtime.YOUNG_THRESHOLD,
            *runtime.OLDER_THRESHOLDS,
        )
        assert pool.submit(gc.get_freeze_count).result(timeout=30) > 1000
    finally:
        workers.close()
