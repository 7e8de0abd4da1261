"""Several `listener run` processes on one PostgreSQL database share the sources.

Each source is polled by one instance per interval (counted at the feed server), no mention is
stored twice, and when an instance is killed the others take over its sources within a lease
period. On SQLite a second instance is refused, naming the file and the PID holding it.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from listener.errors import StoreError
from listener.store.instance_lock import single_instance
from listener.store.mentions import MENTION
from tests.support.fakes.feed_farm import FeedFarm
from tests.support.processes import start_service, stop_all, write_settings

EVERY = 2.0
LEASE = 3.0


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_three_instances_poll_each_source_once_per_interval_and_survive_a_kill(
    tmp_path: Path, postgres_url: str
) -> None:
    with FeedFarm(feeds=6, grow=True, window=12, latency=0.3) as farm:
        config = write_settings(
            tmp_path / "settings.toml",
            database_url=postgres_url,
            feeds=[(f"feed-{i}", url) for i, url in enumerate(farm.urls())],
            every=f"{EVERY:g}s",
            lease=f"{LEASE:g}s",
        )
        services = [
            start_service(config, tmp_path / f"{name}.log", instance=name)
            for name in ("alpha", "beta", "gamma")
        ]
        try:
            for service in services:
                service.wait_for("writing to")
            time.sleep(3 * EVERY)
            killed_at = time.monotonic()
            services[0].kill()
            time.sleep(EVERY + LEASE)
            exit_codes = [service.terminate() for service in services[1:]]
        finally:
            stop_all(services)
        requests = {feed: list(times) for feed, times in farm.requests.items()}
        served = farm.served_ids()

    assert exit_codes == [0, 0], [s.output for s in services[1:]]
    assert sorted(requests) == list(range(6))
    for feed, times in requests.items():
        # Three instances, but never two polls of one source within the same interval ...
        assert min(gaps(times)) > EVERY / 4, (feed, gaps(times))
        assert len(times) <= (times[-1] - times[0]) / EVERY + 2, (feed, gaps(times))
        # ... and the sources of the killed instance were taken over by the others
        after_kill = [t for t in times if t > killed_at]
        # (a lease it held lapses within LEASE; the source is claimed at its next tick after that)
        assert after_kill and after_kill[0] - killed_at < LEASE + EVERY + 1.5, (
            feed,
            times,
            killed_at,
        )
        assert len(times) >= 3, (feed, len(times))

    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            stored = {row[0] for row in conn.execute(select(MENTION.c.external_id))}
            rows = conn.execute(select(func.count()).select_from(MENTION)).scalar_one()
    finally:
        engine.dispose()
    assert rows == len(stored)  # no duplicates
    assert stored == served  # nothing served was lost, not even by the killed instance


def test_a_second_instance_on_the_same_sqlite_file_is_refused_with_the_holders_pid(
    tmp_path: Path,
) -> None:
    database = tmp_path / "listener.db"
    config = write_settings(
        tmp_path / "settings.toml", database_url=f"sqlite:///{database}", feeds=[]
    )
    first = start_service(config, tmp_path / "first.log")
    try:
        first.wait_for("writing to")
        second = start_service(config, tmp_path / "second.log")
        assert second.process.wait(timeout=30) == 1
        message = " ".join(second.output.split())
        assert f"PID {first.process.pid}" in message
        assert str(database) in message
        assert "one instance" in message and "Traceback" not in message
        assert first.process.poll() is None  # the first one carries on
        assert first.terminate() == 0
    finally:
        stop_all([first])
    # once the first has stopped, the file is free again
    with single_instance(f"sqlite:///{database}"):
        pass


def test_the_sqlite_lock_is_per_database_file_and_not_used_for_postgresql(tmp_path: Path) -> None:
    one = f"sqlite:///{tmp_path / 'one.db'}"
    with single_instance(one):
        with pytest.raises(StoreError, match=f"PID {os.getpid()}"), single_instance(one):
            pass
        with single_instance(f"sqlite:///{tmp_path / 'two.db'}"):
            pass
        with (
            single_instance("postgresql+psycopg://u@localhost/db"),
            single_instance("postgresql+psycopg://u@localhost/db"),
        ):
            pass
    with single_instance(one):
        pass
