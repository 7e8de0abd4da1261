"""Feed polling wall time: 1,000 local feeds behind a server with 100 ms latency.

    python bench/bench_polling.py [--feeds 1000] [--latency 0.1] [--hosts 50]
                                  [--max-concurrent 64] [--per-host 4] [--database-url URL]
                                  [--fetch-worker auto|true|false] [--default-gc]

The feeds are served by a separate local process (as feeds live on other machines: a server
in the same process would compete with the poller for the interpreter lock) listening on
--hosts ports (politeness is per
host:port, so this stands for feeds spread over that many sites; --hosts 1 is the worst case of
every feed on one site, where the per-host limit decides the time). Pass 1 fetches, scores and
stores 3 entries per feed; pass 2 finds every feed unchanged and must get only 304s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listener._process import settle_heap, tune_garbage_collector
from listener.app import make_listener
from listener.settings import validate_settings
from tests.support.fakes.feed_farm import FeedFarm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import Stopwatch, TimedStep, cpu_split, fresh_postgres, part_seconds

REPO = Path(__file__).resolve().parents[1]


def serve_farm(conn: Any, options: dict[str, Any]) -> None:
    """Child process: run the feed farm, answer "stats" requests until told to "stop"."""
    with FeedFarm(**options) as farm:
        conn.send(farm.urls())
        while (command := conn.recv()) != "stop":
            if command == "stats":
                conn.send((farm.total_requests(), farm.not_modified, farm.max_in_flight))
    conn.close()


class RemoteFarm:
    """The feed farm in its own process, with the counters the benchmark reads."""

    def __init__(self, **options: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_farm, args=(child, options), daemon=True)

    def __enter__(self) -> RemoteFarm:
        self._process.start()
        self._urls: list[str] = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    def urls(self) -> list[str]:
        return self._urls

    def stats(self) -> tuple[int, int, int]:
        self._conn.send("stats")
        requests, not_modified, in_flight = self._conn.recv()
        return int(requests), int(not_modified), int(in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--max-concurrent", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument(
        "--fetch-worker",
        default="auto",
        type=lambda v: v if v == "auto" else v.lower() in ("1", "true", "yes", "on"),
        help="fetch and parse feeds in a worker process: auto (default), true or false",
    )
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temp dir")
    parser.add_argument(
        "--postgres-url",
        default="",
        help="run on PostgreSQL in a fresh schema of this database (dropped afterwards)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's garbage collector settings instead of the service's (to compare)",
    )
    args = parser.parse_args()
    if not args.default_gc:
        tune_garbage_collector()  # as the `listener` command does first

    workdir = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    url = args.database_url or f"sqlite:///{workdir / 'listener.db'}"
    drop: Any = None
    if args.postgres_url:
        url, drop = fresh_postgres(args.postgres_url)
    with RemoteFarm(feeds=args.feeds, latency=args.latency, hosts=args.hosts) as farm:
        settings = validate_settings(
            {
                "database": {"url": url},
                "brands": [
                    {"name": "O2", "terms": ["O2"]},
                    {"name": "Skyline Air", "terms": ["Skyline Air"]},
                ],
                "sources": [{"name": f"feed-{i}", "url": u} for i, u in enumerate(farm.urls())],
                "service": {
                    "max_concurrent_polls": args.max_concurrent,
                    "per_host_limit": args.per_host,
                    "fetch_worker": args.fetch_worker,
                },
                "outreach": {"templates_dir": str(REPO / "templates")},
                "base_dir": workdir,
            }
        )
        not_ours = frozenset({farm.pid})
        listener = make_listener(settings)
        settle_heap()
        # The service runs for days: time its steady state, with the workers already started.
        if listener.fetch_worker is not None:
            listener.fetch_worker.wait_until_ready()
        if pipeline_workers := listener.pipeline.workers:
            pipeline_workers.wait_until_ready()
        pipeline = listener.pipeline
        steps = [TimedStep(step) for step in pipeline.after_store]
        pipeline.after_store = list(steps)
        # Scoring and drafting run in the scoring worker when there is one, so only the
        # store and the after-store steps are timed here (thread-seconds include waiting).
        watches: dict[str, Any] = {
            "store": Stopwatch(pipeline.store, "ingest", "ingest_group", "known_external_ids"),
        }
        pipeline.store = watches["store"]
        try:
            rows = []
            for label in ("pass 1 (new entries)", "pass 2 (unchanged)"):
                before_requests, before_304, _ = farm.stats()
                started, cpu_started = time.perf_counter(), cpu_split(not_ours)
                reports = listener.poll()
                elapsed = time.perf_counter() - started
                cpu = {k: v - cpu_started[k] for k, v in cpu_split(not_ours).items()}
                after_requests, after_304, _ = farm.stats()
                rows.append(
                    (
                        label,
                        elapsed,
                        cpu,
                        after_requests - before_requests,
                        after_304 - before_304,
                        sum(r.new for r in reports),
                        sum(1 for r in reports if r.error),
                    )
                )
        finally:
            fetched_remotely = listener.fetch_worker.fetched if listener.fetch_worker else None
            listener.close()
        in_flight = farm.stats()[2]
    print(
        f"{args.feeds} feeds on {args.hosts} host(s), {args.latency * 1000:.0f} ms latency, "
        f"max_concurrent_polls={args.max_concurrent}, per_host_limit={args.per_host}, "
        f"database {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}"
    )
    print(
        f"{'pass':<22} {'wall s':>7} {'CPU s: this':>12} {'workers':>8} {'database':>9} "
        f"{'requests':>9} {'304s':>6} {'new':>6} {'errors':>7}"
    )
    for label, elapsed, cpu, requests, not_modified, new, errors in rows:
        print(
            f"{label:<22} {elapsed:7.2f} {cpu['this process']:12.2f} {cpu['workers']:8.2f} "
            f"{cpu['database server']:9.2f} {requests:9d} {not_modified:6d} {new:6d} {errors:7d}"
        )
    print(
        "(CPU seconds of this process, of its scoring and fetch workers, and of a PostgreSQL "
        "server on this machine; the feed server's process is not counted)"
    )
    print(f"most requests in flight at once: {in_flight}")
    print(
        f"fetched by the fetch worker: {fetched_remotely}"
        if fetched_remotely is not None
        else "fetch worker: off (feeds fetched and parsed in this process)"
    )
    spent = part_seconds(watches, steps)
    print(
        "thread-seconds inside pipeline parts (both passes): "
        + ", ".join(f"{name} {value:.1f}" for name, value in spent.items())
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")
    if drop is not None:
        drop()


if __name__ == "__main__":
    main()
