"""What listener's worker processes (scoring, fetching) share: how many cores they may use,
and ending with the process that started them."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import threading

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
