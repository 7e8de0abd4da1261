"""How fast approved replies go out, and what the exactly-once bookkeeping costs.

    python bench/bench_dispatch.py [--drafts 300] [--dispatchers 2]

Approves N replies to N different X authors on a SQLite file, then runs one dispatch pass
(or several dispatchers at once, each on its own connection) against the local fake X API.
Prints replies sent per second and the posts the fake server received (must equal N: each
reply exactly once). It also times bare `create_tweet` round trips to the same fake, so the
difference is listener's own bookkeeping per send (claim + commit, result + audit records).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listener.outreach.dispatch import Dispatcher
from listener.settings import validate_settings
from listener.store import Store
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import X_KEYS, build_world, x_mention

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=300)
    parser.add_argument("--dispatchers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, XApiServer() as x_api:
        settings = validate_settings(
            {
                "database": {"url": f"sqlite:///{tmp}/bench.db"},
                "brands": [{"name": "O2", "terms": ["O2", "@O2"]}],
                "scoring": {"model": "lexicon"},
                "outreach": {
                    "templates_dir": str(REPO / "templates"),
                    "send_rate_per_minute": 1_000_000,
                },
                "x_publish": {"api_url": x_api.url},
                "base_dir": tmp,
            }
        )
        world = build_world(settings)
        mentions = [
            x_mention(x_api, x_api.add_user(f"user{i}"), f"@O2 outage number {i}")
            for i in range(args.drafts)
        ]
        drafts = world.ingest(*mentions)
        world.approve(*drafts)
        stores = [world.store] + [
            Store.open(settings.database_url) for _ in range(args.dispatchers - 1)
        ]
        dispatchers = [
            Dispatcher(settings, store, world.clock, environ=X_KEYS, batch=args.drafts)
            for store in stores
        ]
        start = time.perf_counter()
        threads = [threading.Thread(target=d.run_once) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        posts = len(x_api.requests_to("post"))
        round_trip = _bare_round_trip(x_api)
        per_send = elapsed / args.drafts * args.dispatchers
        print(f"{args.drafts} approved replies, {args.dispatchers} dispatcher(s)")
        print(f"  {elapsed:.2f} s, {args.drafts / elapsed:,.0f} replies/s, {posts} POSTs received")
        print(
            f"  per send per dispatcher {per_send * 1000:.1f} ms, of which the bare "
            f"create_tweet round trip is {round_trip * 1000:.1f} ms"
        )
        for dispatcher in dispatchers:
            dispatcher.close()
        for store in stores[1:]:
            store.close()
        world.listener.close()


def _bare_round_trip(x_api: XApiServer, n: int = 30) -> float:
    from listener.outreach.publishers.x_reply import build_x_publisher
    from listener.settings import XPublishSettings

    publisher = build_x_publisher(XPublishSettings(api_url=x_api.url), X_KEYS)
    client = publisher._client  # the same tweepy client and session the dispatcher uses
    start = time.perf_counter()
    for i in range(n):
        client.create_tweet(text=f"bare round trip {i}", in_reply_to_tweet_id="1", user_auth=True)
    publisher.close()
    return (time.perf_counter() - start) / n


if __name__ == "__main__":
    main()
