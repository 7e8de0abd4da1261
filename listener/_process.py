"""What every process listener owns shares: its garbage-collector settings, how many cores it
may use, and ending with the process that started it (scoring and fetch workers).

The garbage collector: the pipeline makes many short-lived container objects per batch
(mentions, scores, signals, row dicts), almost none of them in reference cycles, while the
process holds a large long-lived heap (the model, the lexicons, SQLAlchemy's metadata, the
templates). With CPython's defaults a young collection runs every 700 net allocations and a
full one walks that whole heap every few hundred thousand; fewer young collections and a frozen
start-up heap cost the same memory (reference counting frees acyclic garbage at once either
way) and take that time back. `docs/benchmarks.md` has the figures.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading

# A young collection once the container objects allocated and not yet freed exceed this
# (CPython's default: 700). A 2,000-mention batch keeps tens of thousands alive at its peak,
# so collections still run in most batches. A much higher threshold (100,000) all but stops
# them, but garbage in reference cycles (few, mostly SQLAlchemy's compiled statements) then
# waits so long that resident memory grows through a long import, likely because scattered
# cycles keep whole arenas of small objects from being returned; at this value it stays flat.
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


# What multiprocessing's resource tracker prints when a process that used worker processes was
# killed (SIGKILL, the OOM killer) or stopped without closing them: "resource_tracker: There
# appear to be N leaked semaphore objects to clean up at shutdown", or a traceback-like line per
# semaphore it could not find. The tracker then cleans them up, which is its job; the message
# only frightens whoever reads the terminal.
_TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def quiet_resource_tracker() -> None:
    """Keep the resource tracker's clean-up warnings off the terminal.

    The tracker is a process of its own, started the first time a worker process needs a
    semaphore, with this interpreter's `-W` options (`sys.warnoptions`): the filter must be
    in place before then. It changes nothing else: the tracker still removes what a killed
    process left behind.
    """
    if _TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(_TRACKER_WARNINGS)


def exit_with_parent() -> None:
    """End this process when the one that started it ends.

    A worker must not outlive its service: if the service is killed (SIGKILL, the OOM killer),
    nobody tells the worker to stop, and it would wait for work forever.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        watcher = threading.Thread(
            target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True
        )
        watcher.start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
