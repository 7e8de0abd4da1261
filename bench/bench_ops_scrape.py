"""What a Prometheus scrape and a load balancer's health check cost on a large store.

    python bench/bench_ops_scrape.py [--mentions 200000] [--drafts 20000] [--runs 50] [--url URL]

Builds the store like bench_queue_page.py (kept at --db and reused when the counts match),
then times, with the scrape cache off so every call reads the database: the readiness query
(`store.schema_state`), the database gauges (`store.queue_snapshot`), the source-health
judgement the `sources.health` job runs every minute (`store.sources.statuses`, which counts a
day of mentions per source), and whole HTTP requests to /readyz and /metrics. Prints p50/p95.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_queue_page import SOURCES, T0, build  # noqa: E402  (beside this script)

from listener.app import make_listener  # noqa: E402
from listener.clock import ReplayClock  # noqa: E402
from listener.settings import validate_settings  # noqa: E402
from listener.web.routes_ops import create_ops_app  # noqa: E402
from listener.web.server import WebServer  # noqa: E402


def timings(call: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(round(0.95 * (runs - 1)), runs - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--drafts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--db", type=Path, default=Path("/tmp/listener-bench-ops.db"))
    parser.add_argument("--url", default="", help="a database URL instead of the SQLite --db")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.db}"
    build(url, args.mentions, args.drafts)
    settings = validate_settings(
        {
            "database": {"url": url},
            "brands": [{"name": "O2", "terms": ["O2"]}, {"name": "Skyline Air", "terms": ["x"]}],
            "sources": [{"name": s, "url": "never-polled.xml"} for s in SOURCES],
            "outreach": {"templates_dir": str(REPO / "templates")},
            "scoring": {"workers": 0, "model": "lexicon"},
            "ops": {"scrape_cache": "0s"},
        }
    )
    last = T0 + timedelta(seconds=args.mentions * 2.5)
    listener = make_listener(settings, environ={}, clock=ReplayClock(last))
    store = listener.store
    try:
        print(f"{url.split('://')[0]}: {args.mentions:,} mentions, {args.drafts:,} drafts")
        rows: list[tuple[str, Callable[[], object]]] = [
            ("readiness query (schema_state)", lambda: store.schema_state()),
            ("database gauges (queue_snapshot)", lambda: store.queue_snapshot()),
            ("source health (sources.statuses)", lambda: store.sources.statuses(last)),
        ]
        app = create_ops_app(listener)
        with (
            WebServer(listener, port=0, app=app, setting="ops") as server,
            httpx.Client(base_url=server.url) as client,
        ):
            rows += [
                ("GET /healthz (no database)", lambda: client.get("/healthz")),
                ("GET /readyz", lambda: client.get("/readyz")),
                ("GET /metrics", lambda: client.get("/metrics")),
            ]
            for name, call in rows:
                call()  # warm
                p50, p95 = timings(call, args.runs)
                print(f"  {name:36s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    finally:
        listener.close()


if __name__ == "__main__":
    main()
