"""Group commit: concurrent polls' writes go to the database together, one transaction each.

A thousand feeds polled at once would otherwise mean a thousand small write transactions
queueing for one write lock, each with its own commit, audit append, incident update and case
step: the lock, not the network, would set the pace. Here the first poll to arrive
writes, and every poll that arrives while it is writing waits and is written with the next
group, in one transaction, followed by one run of the after-store steps for the whole group.
A poll still gets its own result (what was new, what went wrong) and returns only when its
batch is committed, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from listener.domain import BatchWrite, StoredMention


@dataclass(eq=False)
class PendingWrite:
    """One poll's batch waiting to be written, and what became of it."""

    write: BatchWrite
    at: datetime
    stored: list[StoredMention] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: BaseException | None = None
    # Asked by a writer that runs the after-store steps itself, on a thread of its own: when
    # it was written alone, the batch record those steps must settle (see `Pipeline`).
    settle_later: bool = False
    unsettled_batch: int | None = None
    done: threading.Event = field(default_factory=threading.Event)


WriteGroup = Callable[[Sequence[PendingWrite]], None]


class GroupCommit:
    """Leader/follower batching of writes from many threads.

    `write_group` stores a group and fills in each write's `stored`, `problems` or `error`;
    it runs on whichever submitting thread found no writer busy, one group at a time.
    """

    def __init__(self, write_group: WriteGroup, *, max_items: int = 5000) -> None:
        self.write_group = write_group
        self.max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[PendingWrite] = []
        self._writing = False

    def submit(
        self, write: BatchWrite, at: datetime, *, settle_later: bool = False
    ) -> PendingWrite:
        """Write `write` (with whatever else is waiting); returns once it is committed or
        failed. The error of a failed write is in the result, not raised."""
        pending = PendingWrite(write, at, settle_later=settle_later)
        with self._lock:
            self._queue.append(pending)
            lead = not self._writing
            if lead:
                self._writing = True
        if lead:
            self._lead()
        pending.done.wait()
        return pending

    def _take(self) -> list[PendingWrite]:
        group: list[PendingWrite] = []
        items = 0
        while self._queue and (
            not group or items + len(self._queue[0].write.items) <= self.max_items
        ):
            pending = self._queue.pop(0)
            items += len(pending.write.items)
            group.append(pending)
        return group

    def _lead(self) -> None:
        while True:
            with self._lock:
                group = self._take()
                if not group:
                    self._writing = False
                    return
            try:
                self.write_group(group)
            except Exception as exc:  # a bug: every waiter of the group learns of it
                for pending in group:
                    if pending.error is None:
                        pending.error = exc
            except BaseException as exc:  # interrupted: fail everything waiting, then stop
                with self._lock:
                    group.extend(self._queue)
                    self._queue.clear()
                    self._writing = False
                for pending in group:
                    pending.error = pending.error or exc
                    pending.done.set()
                raise
            for pending in group:
                pending.done.set()
