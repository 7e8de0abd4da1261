"""What every worker process listener starts (scoring, fetching) does about its parent."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading


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
