"""Queue page render time with 100,000 pending drafts and 1,000,000 mentions (SQLite).

    python bench/bench_queue_page.py [--mentions 1000000] [--drafts 100000] [--runs 200]

Builds the store once with Core executemany (kept at --db and reused when the counts match),
serves the review desk in-process under uvicorn, signs in, and times whole HTTP requests
(query, template, transfer) for the queue's common views. Prints p50/p95 per view.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from listener.app import make_listener  # noqa: E402
from listener.clock import ReplayClock  # noqa: E402
from listener.settings import validate_settings  # noqa: E402
from listener.store import Store  # noqa: E402
from listener.store.mentions import DRAFT, MENTION, SCORE  # noqa: E402
from listener.web.auth import hash_password  # noqa: E402
from listener.web.server import WebServer  # noqa: E402

BRANDS = ["O2", "Skyline Air"]
SOURCES = ["x-search", "x-mentions", "news-feed", "reddit", "mastodon"]
CATEGORIES = ["complaint", "outage", "privacy", "question", "praise", "news", "other"]
WORDS = [
    "signal",
    "network",
    "outage",
    "refund",
    "billing",
    "support",
    "phone",
    "app",
    "broken",
    "slow",
    "delayed",
    "flight",
    "luggage",
    "crew",
    "seat",
    "hours",
    "terrible",
    "awful",
    "thanks",
    "great",
    "love",
    "never",
    "again",
    "customer",
    "service",
]
T0 = datetime(2026, 10, 1, tzinfo=UTC)
CHUNK = 20_000


def build(url: str, mentions: int, drafts: int) -> None:
    store = Store.open(url)
    rng = random.Random(7)
    started = time.perf_counter()
    with store._write() as conn:
        have = conn.execute(select(func.count()).select_from(MENTION)).scalar_one()
        have_drafts = conn.execute(select(func.count()).select_from(DRAFT)).scalar_one()
    if have == mentions and have_drafts == drafts:
        print(f"reusing {url}: {have:,} mentions, {have_drafts:,} drafts")
        store.close()
        return
    if have:
        sys.exit(f"{url} holds {have:,} mentions, not {mentions:,}; remove it first")
    draft_every = mentions // drafts
    for start in range(1, mentions + 1, CHUNK):
        ids = range(start, min(start + CHUNK, mentions + 1))
        mention_rows, score_rows, draft_rows = [], [], []
        for i in ids:
            at = T0 + timedelta(seconds=i * 2.5)
            text = " ".join(rng.choice(WORDS) for _ in range(14))
            brand = BRANDS[0] if rng.random() < 0.7 else BRANDS[1]
            followers = int(rng.paretovariate(1.2) * 100)
            mention_rows.append(
                {
                    "id": i,
                    "source": rng.choice(SOURCES),
                    "external_id": f"m{i}",
                    "source_kind": "x",
                    "brand": brand,
                    "matched_term": brand,
                    "text": f"@{brand.replace(' ', '')} {text}",
                    "title": "",
                    "url": f"https://x.example/status/{i}",
                    "author": f"@user{i % 50_000}",
                    "author_name": f"User {i % 50_000}",
                    "author_followers": followers,
                    "author_verified": False,
                    "author_email": "",
                    "published_at": at,
                    "fetched_at": at,
                    "lang": "en",
                    "replies": 0,
                    "reposts": 0,
                    "likes": 0,
                    "quotes": 0,
                    "in_reply_to": "",
                    "story_key": "",
                    "title_key": "",
                }
            )
            unhappy = rng.random()
            score_rows.append(
                {
                    "mention_id": i,
                    "dissatisfaction": unhappy,
                    "dissatisfied": unhappy >= 0.5,
                    "incident_risk": rng.random() * 0.8,
                    "category": rng.choice(CATEGORIES),
                    "reason": "",
                    "signals": [{"name": "negative words", "weight": 0.4}],
                    "scorer": "bench",
                    "scored_at": at,
                }
            )
            if i % draft_every == 0:
                draft_rows.append(
                    {
                        "mention_id": i,
                        "brand": brand,
                        "channel": "x",
                        "template": "complaint",
                        "text": "Sorry to hear that. Please DM us your account number.",
                        "original_text": "Sorry to hear that. Please DM us your account number.",
                        "status": "pending",
                        "recipient": f"m{i}",
                        "priority": rng.random() * 100,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        with store._write() as conn:
            conn.execute(insert(MENTION), mention_rows)
            conn.execute(insert(SCORE), score_rows)
            if draft_rows:
                conn.execute(insert(DRAFT), draft_rows)
        done = ids[-1]
        print(f"\r  {done:,} mentions written ({time.perf_counter() - started:.0f} s)", end="")
    print()
    with store._write() as conn:
        conn.exec_driver_sql("ANALYZE")
    with store._read() as conn:
        n = conn.execute(select(func.count()).select_from(DRAFT)).scalar_one()
    print(f"built in {time.perf_counter() - started:.0f} s: {mentions:,} mentions, {n:,} drafts")
    store.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/listener-bench-queue.db"))
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    build(url, args.mentions, args.drafts)

    settings = validate_settings(
        {
            "database": {"url": url},
            "brands": [{"name": b, "terms": [b]} for b in BRANDS],
            "sources": [],
            "scoring": {"model": "lexicon"},
            "outreach": {"templates_dir": str(REPO / "templates")},
            "base_dir": args.db.parent,
        }
    )
    listener = make_listener(settings, sources=[], clock=ReplayClock(T0 + timedelta(days=30)))
    if listener.store.users.by_name("bench") is None:
        listener.store.users.add(
            name="bench",
            role="approver",
            password_hash=hash_password("bench password"),
            actor="bench",
            at=listener.clock.now(),
        )
    with WebServer(listener, port=0, environ={"LISTENER_WEB_SECRET_KEY": "x" * 40}) as server:
        client = httpx.Client(base_url=server.url, timeout=30)
        login = client.get("/login").text
        token = login.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login", data={"username": "bench", "password": "bench password", "csrf_token": token}
        )
        first = client.get("/queue")
        assert first.status_code == 200 and "data-draft-id" in first.text, first.text[:500]
        deep = args.drafts // 2
        deep_cursor = _cursor_after(listener, deep)
        views = {
            "queue, first page": "/queue",
            f"queue, page after {deep:,} drafts": f"/queue?after={deep_cursor}",
            "queue, one brand": "/queue?brand=O2",
            "queue, one source": "/queue?source=reddit",
            "queue, one category": "/queue?category=outage",
            "queue, brand + category": "/queue?brand=Skyline+Air&category=praise",
        }
        print(
            f"\n{args.mentions:,} mentions, {args.drafts:,} pending drafts, SQLite, "
            f"page size {settings.web.page_size}, {args.runs} requests per view (after 5 warm-up)"
        )
        print(f"{'view':36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, path in views.items():
            _report(client, name, path, args.runs)
        _report(client, "queue, text search (LIKE scan)", "/queue?q=luggage+crew", 10)
        _report(client, "mentions feed, first page", "/mentions", args.runs)
        client.close()
    listener.close()


def _cursor_after(listener, n: int) -> str:  # type: ignore[no-untyped-def]
    with listener.store._read() as conn:
        row = conn.execute(
            select(DRAFT.c.priority, DRAFT.c.id)
            .where(DRAFT.c.status == "pending")
            .order_by(DRAFT.c.priority.desc(), DRAFT.c.id.asc())
            .offset(n)
            .limit(1)
        ).one()
    return f"{row.priority!r}:{row.id}"


def _report(client: httpx.Client, name: str, path: str, runs: int) -> None:
    for _ in range(5):
        assert client.get(path).status_code == 200
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    print(
        f"{name:36} {statistics.median(samples):8.1f} {percentile(samples, 0.95):8.1f} "
        f"{max(samples):8.1f}"
    )


if __name__ == "__main__":
    main()
