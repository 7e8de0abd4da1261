"""How a listener process sets up CPython's cyclic garbage collector.

The pipeline makes tens of thousands of short-lived container objects per batch (mentions,
scores, signals, row dicts), almost none of them in reference cycles, while the process holds
a large long-lived heap (the model, the lexicons, SQLAlchemy's metadata, the templates). With
CPython's defaults a young-generation collection runs every 700 net allocations and a full
one, walking that whole heap, every few hundred thousand: measured on an import of 50,000
mentions, 4,700 collections took 4.0 s of a 20 s run, and 15-20% of the scorer's own time.
Fewer young collections and a frozen start-up heap cost the same memory (reference counting
frees acyclic garbage at once either way) and take that time back.
"""

from __future__ import annotations

import gc

# A young collection once the container objects allocated and not yet freed exceed this
# (CPython's default: 700). A 2,000-mention batch keeps tens of thousands alive at its peak,
# so collections still run in most batches (2.5 s of a 65 s import of 200,000 mentions on
# PostgreSQL with the worker; 3.3 s of 25 s for 50,000 on one core with the default, 0.25 s
# at this threshold). 100,000 made them all but stop (0.01 s), but then garbage in reference
# cycles waited so long that resident memory grew through an import of a million mentions
# (321 -> 359 MiB, the worker's to 409 MiB) where at 20,000 it stays flat (310 -> 311 MiB).
# Tried again on 2026-12-01 with the same result on SQLite (400,000 mentions with the worker:
# 317 -> 332 MiB at 100,000, flat at 316 MiB at 20,000): the cycles are few (~0.04 a
# mention, mostly SQLAlchemy's compiled statements) but, scattered, they likely keep whole
# arenas of small objects from being returned.
YOUNG_THRESHOLD = 20_000
# A middle-generation collection every this many young ones, and a full one every this many
# middle ones (CPython's defaults: 10 and 10).
OLDER_THRESHOLDS = (10, 10)


_tuned = False


def tune_garbage_collector() -> None:
    """Collect young objects less often: called first thing by every process listener owns
    (the command line and each scoring worker), never on import, so code that merely uses the
    package (the tests, an embedding program) keeps its own settings."""
    global _tuned
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    _tuned = True


def settle_heap() -> None:
    """Once the service is built, move everything alive out of the collector's sight.

    What start-up built lives as long as the process, so walking it on every full collection
    is wasted time; objects made later are collected as usual. Only in a process that tuned
    its collector: frozen objects that later become cyclic garbage are never freed, which a
    process building many listeners (a test run) must not pay for.
    """
    if _tuned:
        gc.freeze()
