"""Fetching and parsing feeds in a worker process, so that polling many feeds uses two cores.

A feed poll is Python work from end to end: httpx reading the response and feedparser parsing
it are a large share of a poll's CPU, and every polling thread shares this process's
interpreter lock. With the fetch worker on, a process of its own
fetches and parses every feed-kind source (feed, reddit, mastodon, hackernews) and hands back
the mentions; this process only matches, stores and runs the after-store steps. The worker
builds the same sources from the same settings, so what a poll fetches does not change.

Each polling thread borrows a channel of its own: a pipe to a thread in the worker that serves
only that pipe. The reply wakes the thread that waits for it, so no hand-over thread has to win
the interpreter lock from dozens of polling threads before a poll can go on, as a process
pool's single result thread would.

The worker is an optimisation, never a dependency: until it has started, when it died or does
not answer in time, a poll fetches in this process exactly as it would without it. Nothing is
saved by the worker, so a fetch it lost is simply fetched again.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

from listener.domain import Engagement, FetchBatch, Mention, PollState
from listener.errors import RateLimited, SourceDisabled, SourceError
from listener.settings import Settings
from listener.sources.base import Source
from listener.sources.bounded_http import fetches_aborted

log = logging.getLogger("listener.fetch")

# A feed source's own timeouts bound a fetch; the worker gets this much longer to answer before
# the poll gives up on it and fetches here instead.
ANSWER_MARGIN = timedelta(seconds=30)
# How long a poll waits for a free channel to the worker before it fetches here instead.
CHANNEL_WAIT = timedelta(seconds=1)
# After the worker failed, polls fetch here for this long before it is started again.
RESTART_AFTER = timedelta(seconds=60)

PackedMention = tuple[Any, ...]
PackedBatch = tuple[list[PackedMention], tuple[str, str, str], bool, tuple[str, ...]]


# Mention's fields in order; a field added to Mention travels without a change here.
_MENTION_FIELDS = tuple(f.name for f in fields(Mention))


def pack_mention(m: Mention) -> PackedMention:
    """A mention as a plain tuple: pickling the frozen dataclasses calls Python code per field."""
    e = m.engagement
    return tuple(
        (e.replies, e.reposts, e.likes, e.quotes) if name == "engagement" else getattr(m, name)
        for name in _MENTION_FIELDS
    )


def unpack_mention(packed: PackedMention) -> Mention:
    values = dict(zip(_MENTION_FIELDS, packed, strict=True))
    values["engagement"] = Engagement(*values["engagement"])
    return Mention(**values)


def pack_state(state: PollState) -> tuple[str, str, str]:
    return (state.cursor, state.etag, state.last_modified)


def pack_batch(batch: FetchBatch) -> PackedBatch:
    return (
        [pack_mention(m) for m in batch.mentions],
        pack_state(batch.state),
        batch.not_modified,
        tuple(batch.notes),
    )


def unpack_batch(packed: PackedBatch) -> FetchBatch:
    mentions, state, not_modified, notes = packed
    return FetchBatch([unpack_mention(m) for m in mentions], PollState(*state), not_modified, notes)


# -- the worker process ---------------------------------------------------------------------


def _serve(
    settings: Settings,
    environ: Mapping[str, str],
    channels: Sequence[Connection],
    ready: Event,
) -> None:
    """The worker's main: build the feed sources, then answer each channel on a thread."""
    from listener._process import exit_with_parent, tune_garbage_collector
    from listener.sources import FEED_KINDS, build_source
    from listener.sources.feed import HostClients

    tune_garbage_collector()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service stops it (see scoring_workers)
    exit_with_parent()
    clients = HostClients(settings.service.per_host_limit)
    sources: dict[str, Source] = {}
    for config in settings.sources:
        if config.enabled and config.kind in FEED_KINDS:
            try:
                sources[config.name] = build_source(config, settings, environ, feed_clients=clients)
            except SourceDisabled:
                continue  # this process reports it; a poll of it never comes here
    threads = [
        threading.Thread(target=_answer, args=(channel, sources), daemon=True)
        for channel in channels
    ]
    for thread in threads:
        thread.start()
    ready.set()
    for thread in threads:
        thread.join()
    clients.close()


def _answer(channel: Connection, sources: Mapping[str, Source]) -> None:
    """Serve one channel until the service closes it."""
    while True:
        try:
            name, state = channel.recv()
        except (EOFError, OSError):
            return
        source = sources.get(name)
        try:
            if source is None:
                reply: tuple[Any, ...] = ("unknown",)
            else:
                batches = [pack_batch(b) for b in source.fetch(PollState(*state))]
                reply = ("ok", batches)
        except RateLimited as exc:
            reply = ("rate_limited", str(exc), exc.retry_at)
        except SourceError as exc:
            reply = ("error", str(exc))
        except Exception as exc:  # a bug: the poll reports it as an internal error
            reply = ("crash", f"{type(exc).__name__}: {exc}")
        try:
            channel.send(reply)
        except (OSError, ValueError):
            return


# -- this process ---------------------------------------------------------------------------


class WorkerUnavailable(Exception):
    """The worker cannot fetch this now; the poll fetches in this process instead."""


class FetchWorker:
    """The fetch worker process and the channels polling threads borrow to talk to it."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        *,
        channels: int,
        answer_within: timedelta,
    ) -> None:
        self.settings = settings
        self.environ = dict(environ)
        self.channels = max(1, channels)
        self.answer_within = answer_within
        self.fetched = 0  # fetches the worker answered (for benchmarks and tests)
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._ready: Event | None = None
        self._free: queue.SimpleQueue[Connection] | None = None
        self._failed_at: float | None = None
        self._closed = False

    def start(self) -> None:
        """Start the worker if it is not running (without waiting for it)."""
        with self._lock:
            self._start_locked()

    def wait_until_ready(self, timeout: float = 60.0) -> bool:
        """Start the worker and wait until it can fetch (benchmarks, tests)."""
        self.start()
        ready = self._ready
        return ready is not None and bool(ready.wait(timeout))

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None or process.pid is None else int(process.pid)

    def fetch(self, name: str, state: PollState) -> list[FetchBatch]:
        """The source's batches, fetched by the worker; `WorkerUnavailable` when it cannot,
        a `SourceError` (or `RateLimited`) exactly as the source itself raises them."""
        with self._lock:
            self._start_locked()
            process, ready, free = self._process, self._ready, self._free
        if process is None or ready is None or free is None:
            raise WorkerUnavailable("not running")
        if not ready.is_set():
            if process.exitcode is not None:  # it died while starting
                self._failed(f"it exited while starting, with code {process.exitcode}")
            raise WorkerUnavailable("still starting")
        try:
            # All taken only when more polls run than `max_concurrent_polls` (or the worker was
            # just stopped and its channels closed): fetching here is better than waiting.
            channel = free.get(timeout=CHANNEL_WAIT.total_seconds())
        except queue.Empty:
            raise WorkerUnavailable("every channel is busy") from None
        reply: tuple[Any, ...]
        try:
            channel.send((name, pack_state(state)))
            if not self._answered(channel):
                # A late answer would reach the next poll on this channel: drop the channel.
                channel.close()
                if fetches_aborted():
                    raise WorkerUnavailable("the service is stopping")
                self._failed(f"no answer for {name} in {self.answer_within.total_seconds():.0f} s")
                raise WorkerUnavailable("no answer in time")
            reply = channel.recv()
        except (EOFError, OSError, ValueError) as exc:
            channel.close()
            self._failed(f"{type(exc).__name__}: {exc}")
            raise WorkerUnavailable(str(exc)) from None
        free.put(channel)
        kind = reply[0]
        if kind == "ok":
            with self._lock:  # `+=` alone can lose a count between threads
                self.fetched += 1
            return [unpack_batch(b) for b in reply[1]]
        if kind == "rate_limited":
            raise RateLimited(reply[1], reply[2])
        if kind == "error":
            raise SourceError(reply[1])
        if kind == "crash":
            raise RuntimeError(f"in the fetch worker: {reply[1]}")
        raise WorkerUnavailable(f"the worker does not poll {name!r}")

    def _answered(self, channel: Connection) -> bool:
        """Wait for the worker's answer, at most `answer_within`; False when it did not come,
        or when the service is stopping (the fetch is given up rather than waited for)."""
        end = time.monotonic() + self.answer_within.total_seconds()
        while (left := end - time.monotonic()) > 0:
            if channel.poll(min(left, 0.5)):
                return True
            if fetches_aborted():
                return False
        return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stopped = self._detach_locked()
        _end(*stopped)

    def _start_locked(self) -> None:
        if self._closed or self._process is not None:
            return
        if self._failed_at is not None:
            if time.monotonic() - self._failed_at < RESTART_AFTER.total_seconds():
                return
            log.info("starting the fetch worker again")
        # "spawn", as for the scoring workers: a fork would copy this process's threads and
        # open database connections mid-use.
        context = multiprocessing.get_context("spawn")
        pairs = [context.Pipe(duplex=True) for _ in range(self.channels)]
        ready = context.Event()
        process = context.Process(
            target=_serve,
            args=(self.settings, self.environ, [theirs for _, theirs in pairs], ready),
            name="listener-fetch",
            daemon=True,
        )
        process.start()
        free: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        for ours, theirs in pairs:
            theirs.close()
            free.put(ours)
        self._process, self._ready, self._free = process, ready, free

    def _failed(self, why: str) -> None:
        with self._lock:
            if self._process is None:
                return  # another poll saw the same failure first
            log.warning(
                "the fetch worker failed (%s); feeds are fetched in this process, and it is "
                "started again in %d s",
                why,
                RESTART_AFTER.total_seconds(),
            )
            self._failed_at = time.monotonic()
            stopped = self._detach_locked()
        _end(*stopped)  # outside the lock: other polls fetch here meanwhile, not wait

    def _detach_locked(
        self,
    ) -> tuple[BaseProcess | None, queue.SimpleQueue[Connection] | None]:
        """Forget the running worker; `_end` then stops it."""
        stopped = self._process, self._free
        self._process = self._ready = self._free = None
        return stopped


def _end(process: BaseProcess | None, free: queue.SimpleQueue[Connection] | None) -> None:
    """Close the worker's idle channels and wait for it to end (it is killed if it won't)."""
    if free is not None:
        while True:
            try:
                free.get_nowait().close()
            except queue.Empty:
                break
    if process is not None:
        # Its channels are closed, so its threads end; a worker stuck in a fetch is ended.
        process.join(timeout=2)
        if process.is_alive():
            process.kill()
            process.join(timeout=2)


class WorkerFetchedSource:
    """A feed-kind source whose fetches go to the fetch worker, and stay here when it cannot."""

    def __init__(self, source: Source, worker: FetchWorker) -> None:
        self.source = source
        self.worker = worker
        self.name = source.name
        self.kind = source.kind
        # Politeness is per host in this process (`listener.sources.polling.source_host` reads it).
        self.url = getattr(source, "url", "")

    def fetch(self, state: PollState) -> Iterator[FetchBatch]:
        try:
            batches = self.worker.fetch(self.name, state)
        except WorkerUnavailable:
            yield from self.source.fetch(state)
            return
        yield from batches

    def close(self) -> None:
        self.source.close()


# A few feeds take little CPU a poll, while a worker process costs memory and a second of CPU
# to start. From this many feeds on, polls that overlap gain from a second core.
AUTO_MIN_FEEDS = 20


def worker_wanted(setting: bool | str, feed_sources: int, cores: int) -> bool:
    """Whether to fetch in a worker: `true`/`false` as set; "auto" with two cores or more and
    enough feeds that parsing them is worth a process (`AUTO_MIN_FEEDS`)."""
    if isinstance(setting, bool):
        return setting
    return cores >= 2 and feed_sources >= AUTO_MIN_FEEDS


def answer_deadline(settings: Settings) -> timedelta:
    """How long a poll waits for the worker: the slowest source timeout plus a margin."""
    timeouts = [
        t for c in settings.sources if isinstance(t := getattr(c, "timeout", None), timedelta)
    ]
    return max(timeouts, default=timedelta(seconds=20)) + ANSWER_MARGIN
