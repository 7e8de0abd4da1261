"""Polling many sources at once, politely, and (with several instances) once per interval.

`ConcurrentPolling` runs polls on a bounded thread pool (`service.max_concurrent_polls`) and
never has more than `service.per_host_limit` requests in flight to one server: hundreds of
feeds on one blog host must not look like an attack. Work is handed out round-robin across
hosts so that a host with many feeds waits on its own semaphore without starving the others.

`SourceLeases` wraps one poll in a database lease (see `listener.sources.leases`): an instance
polls a source only if it could claim it, renews the lease from a background thread while the
poll runs, and on release records when the source is next due. Killing an instance leaves its
leases to expire after one lease period, and the others take over.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlparse

from listener.clock import Clock
from listener.errors import StoreError
from listener.pipeline import PollReport
from listener.sources.base import Source
from listener.sources.leases import format_instance_id, held_until, next_due, renew_every
from listener.store import Store

log = logging.getLogger("listener.sources.polling")

PollOne = Callable[[Source], PollReport]


def source_host(source: Source) -> str | None:
    """The server a source talks to: host:port of its URL, else its kind (one API per kind).

    None for a local file: reading it needs no politeness.
    """
    url = str(getattr(source, "url", "") or "")
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return parsed.netloc.lower()
    if url and parsed.scheme in ("file", ""):
        return None
    return f"{source.kind} api"


class HostLimiter:
    """At most `per_host` polls in flight to the same host, from any thread."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots.get(host)
            if semaphore is None:
                semaphore = self._slots[host] = threading.BoundedSemaphore(self.per_host)
        with semaphore:
            yield

    def poll(self, source: Source, poll_one: PollOne) -> PollReport:
        host = source_host(source)
        if host is None:
            return poll_one(source)
        with self.slot(host):
            return poll_one(source)


def round_robin_by_host(sources: Sequence[Source]) -> list[Source]:
    """One source of each host in turn, so early workers spread over many hosts."""
    queues: dict[str, list[Source]] = {}
    for source in sources:
        queues.setdefault(source_host(source) or "", []).append(source)
    ordered: list[Source] = []
    lists = list(queues.values())
    for i in range(max((len(q) for q in lists), default=0)):
        ordered.extend(q[i] for q in lists if i < len(q))
    return ordered


class ConcurrentPolling:
    """Poll a set of sources once, concurrently; reports come back in the sources' order."""

    def __init__(self, poll_one: PollOne, *, max_workers: int, per_host_limit: int) -> None:
        self.poll_one = poll_one
        self.max_workers = max_workers
        self.hosts = HostLimiter(per_host_limit)

    def poll_all(self, sources: Sequence[Source]) -> list[PollReport]:
        if not sources:
            return []
        order = round_robin_by_host(sources)
        workers = max(1, min(self.max_workers, len(order)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            futures = {
                source.name: pool.submit(self.hosts.poll, source, self.poll_one) for source in order
            }
            by_name = {name: future.result() for name, future in futures.items()}
        return [by_name[source.name] for source in sources]


def instance_id(configured: str = "") -> str:
    """`service.instance` from settings, else hostname:pid:random for this process."""
    return format_instance_id(
        configured, host=socket.gethostname(), pid=os.getpid(), token=secrets.token_hex(3)
    )


class SourceLeases:
    """This instance's leases on sources: claim before a poll, renew during, release after."""

    def __init__(self, store: Store, *, owner: str, lease: timedelta, clock: Clock) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def start(self) -> None:
        if self._renewer is None:
            self._stop.clear()
            self._renewer = threading.Thread(
                target=self._renew_loop, name="lease-renewer", daemon=True
            )
            self._renewer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        try:
            self.store.sources.release_all_leases(owner=self.owner, now=self.clock.now())
        except StoreError as exc:
            log.warning("could not release leases on shutdown (they expire anyway): %s", exc)

    def claim(self, name: str) -> bool:
        now = self.clock.now()
        held = self.store.sources.claim_leases(
            [name], owner=self.owner, now=now, until=held_until(now, self.lease)
        )
        return bool(held)

    def poll_if_due(self, source: Source, every: timedelta, poll_one: PollOne) -> PollReport | None:
        """Poll `source` if this instance can claim it; None when it is not due or held."""
        started = self.clock.now()
        try:
            if not self.claim(source.name):
                log.debug("%s: not due or polled by another instance; skipped", source.name)
                return None
        except StoreError as exc:
            return PollReport(source=source.name, error=f"could not claim the source: {exc}")
        with self._lock:
            self._active.add(source.name)
        try:
            return poll_one(source)
        finally:
            with self._lock:
                self._active.discard(source.name)
            try:
                self.store.sources.release_lease(
                    source.name, owner=self.owner, not_before=next_due(started, every)
                )
            except StoreError as exc:
                log.warning(
                    "%s: could not release the lease (it expires anyway): %s",
                    source.name,
                    exc,
                    extra={"source": source.name},
                )

    def _renew_loop(self) -> None:
        interval = renew_every(self.lease).total_seconds()
        while not self._stop.wait(interval):
            with self._lock:
                names = sorted(self._active)
            if not names:
                continue
            try:
                held = self.store.sources.renew_leases(
                    names, owner=self.owner, until=held_until(self.clock.now(), self.lease)
                )
            except StoreError as exc:
                log.warning("could not renew source leases: %s", exc)
                continue
            for lost in set(names) - held:
                log.warning("%s: lease lost to another instance while polling", lost)
