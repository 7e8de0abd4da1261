"""How a listener process sets up CPython's cyclic garbage collector.

The pipeline makes tens of thousands of short-lived container objects per batch (mentions, scores,
signals, row dicts), almost none of them in reference cycles, while the process holds a large
long-lived heap (the model, the lexicons, SQLAlchemy's metadata, the templates). With CPython's
defaults a young-generation collection runs every 700 net allocations and a full one, walking that
whole heap, every few hundred thousand, so an import spends a noticeable share of its time in
collections that find almost nothing. Fewer young collections and a frozen start-up heap cost the
same memory (reference counting frees acyclic garbage at once either way) and take that time back.
"""

from __future__ import annotations

import gc

# A young collection once the container objects allocated and not yet freed exceed this
# (CPython's default: 700). A 2,000-mention batch keeps tens of thousands alive at its peak,
# so collections still run in most batches, but rarely. A much higher threshold all but stops
# them, and then garbage in reference cycles waits so long that resident memory grows through
# a long import; at this one it stays flat. The cycles are few (mostly SQLAlchemy's compiled
# statements) but, scattered, they likely keep whole arenas of small objects from being
# returned.
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
