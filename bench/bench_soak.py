"""Soak: `listener run` polling 200 local feeds and an X-shaped server for N minutes, with
faults, one SIGKILL and a restart; then mentions stored vs served, duplicates, memory.

    python bench/bench_soak.py [--minutes 10] [--feeds 200] [--every 20s] [--fault-rate 0.05]
                               [--database-url URL]

Faults injected all along: feeds answer HTTP 500, 429 with Retry-After, replies slower than
the source timeout, or a body that is not XML (--fault-rate of all feed requests); the X
server answers 500, 429 with a reset time, a slow reply and cut-off JSON in turn. Half-way the
service is killed with SIGKILL and started again. In the last part faults stop so every
source catches up, then the service is stopped with SIGTERM. It prints mentions stored vs
served (must be equal), duplicates (must be 0), and the service's resident memory at the
start and the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select

from listener.settings import parse_duration
from listener.store.mentions import MENTION
from tests.support.fakes.feed_farm import FeedFarm
from tests.support.fakes.x_api import BEARER_TOKEN, Failure, XApiServer
from tests.support.processes import start_service, write_settings

X_TEXTS = (
    "O2 no signal again in Leeds, third day running @O2",
    "Skyline Air cancelled my flight and the app shows nothing",
    "thanks O2, the new plan is great",
    "Skyline Air crew were lovely today",
    "O2 charged me twice this month, support hung up",
)


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--every", default="20s", help="feed poll interval")
    parser.add_argument("--x-every", default="5s")
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    every = parse_duration(args.every).total_seconds()
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    url = args.database_url or f"sqlite:///{workdir / 'listener.db'}"
    total = args.minutes * 60
    drain = max(3 * every, 30.0)
    faulty_until = max(total - drain, total / 2)
    os.environ["LISTENER_X_BEARER_TOKEN"] = BEARER_TOKEN

    with (
        FeedFarm(args.feeds, grow=True, window=25, faults=args.fault_rate, slow_seconds=6) as farm,
        XApiServer() as x,
    ):
        users = [x.add_user(f"customer{i}", followers=10 * i) for i in range(20)]
        config = write_settings(
            workdir / "settings.toml",
            database_url=url,
            feeds=[(f"feed-{i}", u) for i, u in enumerate(farm.urls())],
            every=args.every,
            lease="30s",
            timeout="3s",
            extra=(
                f'[[sources]]\nname = "x-brands"\nkind = "x"\napi_url = "{x.url}"\n'
                f'every = "{args.x_every}"\ntimeout = "3s"\n'
            ),
        )
        config.write_text(
            config.read_text().replace(
                "[service]\n", "[service]\nmax_concurrent_polls = 16\nper_host_limit = 16\n"
            )
        )
        started = time.monotonic()
        service = start_service(config, workdir / "run-1.log")
        service.wait_for("writing to", timeout=120)
        time.sleep(min(every + 5, total / 4))
        memory_start = rss_mib(service.process.pid)
        killed = False
        x_faults = itertools.cycle(
            [
                Failure.server_error(),
                Failure.rate_limited(reset=int(time.time()) + 3),
                Failure.slow(5),
                Failure.malformed_json(),
            ]
        )
        tweets = 0
        next_fault = time.monotonic()
        while (now := time.monotonic()) - started < total:
            elapsed = now - started
            if elapsed < faulty_until:
                x.add_tweet(
                    f"{X_TEXTS[tweets % len(X_TEXTS)]} (#{tweets})", author=users[tweets % 20]
                )
                tweets += 1
                if now >= next_fault:
                    failure = next(x_faults)
                    if failure.status == 429:
                        failure = Failure.rate_limited(reset=int(time.time()) + 3)
                    x.fail_next(failure, endpoint="search")
                    next_fault = now + 10
            else:
                farm.faults = 0.0
            if not killed and elapsed >= total / 2:
                service.kill()
                print(
                    f"{elapsed:6.0f}s  SIGKILL pid {service.process.pid}; starting again",
                    flush=True,
                )
                service = start_service(config, workdir / "run-2.log")
                service.wait_for("writing to", timeout=120)
                killed = True
            time.sleep(0.5)
        memory_end = rss_mib(service.process.pid)
        code = service.terminate(timeout=120)
        served_feed = farm.served_ids()
        served_x = set(x.tweets)
        faults = dict(farm.faults_served)
        requests = farm.total_requests()

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(MENTION.c.source, MENTION.c.external_id)).all()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(MENTION.c.source, MENTION.c.external_id).distinct().subquery()
            )
        ).scalar_one()
    engine.dispose()
    stored_feed = {r.external_id for r in rows if r.source.startswith("feed-")}
    stored_x = {r.external_id for r in rows if r.source == "x-brands"}
    print(
        f"soak: {args.minutes:g} min, {args.feeds} feeds every {args.every} + X every "
        f"{args.x_every}, fault rate {args.fault_rate:.0%}, one SIGKILL + restart, "
        f"{'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}"
    )
    print(f"feed requests {requests:,}; faults served {faults}; X tweets published {tweets:,}")
    print(f"{'':12}{'served':>9}{'stored':>9}{'missing':>9}{'extra':>7}")
    for label, served, stored in (
        ("feeds", served_feed, stored_feed),
        ("X", served_x, stored_x),
    ):
        print(
            f"{label:12}{len(served):>9,}{len(stored):>9,}{len(served - stored):>9,}"
            f"{len(stored - served):>7,}"
        )
    print(f"duplicates  {len(rows) - distinct}")
    print(f"service RSS start {memory_start:.0f} MiB, end {memory_end:.0f} MiB; exit code {code}")
    ok = served_feed == stored_feed and served_x == stored_x and len(rows) == distinct and code == 0
    print("RESULT", "OK" if ok else "MISMATCH")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
