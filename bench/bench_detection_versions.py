"""Pure detection's CPU per mention for the checkout in the current directory, on
bench_detection's stream with chosen shares: run it from two checkouts to compare versions.

    cd CHECKOUT && PYTHONPATH=. python /path/to/bench/bench_detection_versions.py [--risky 0]

It times the checkout's own `bench/bench_detection.py` `bench_pure` (so each version runs its
own detection loop) on a stream built here from `listener.domain` records alone, which every
version has: a stream on which versions decide alike compares their per-mention cost.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.domain import Category, Mention, Score, StoredMention


def _checkout_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "checkout_bench", Path("bench/bench_detection.py")
    )
    if spec is None or spec.loader is None:
        raise SystemExit("run it from a checkout's root (bench/bench_detection.py not found)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stream(
    n: int, brands: list[str], words: list[str], dissatisfied: float, risky: float
) -> list[StoredMention]:
    """bench_detection's stream, with these shares of dissatisfied and risky mentions."""
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        brand = brands[i % len(brands)]
        text = " ".join(rng.choice(words) for _ in range(rng.randint(6, 18)))
        unhappy = rng.random() < dissatisfied
        risk = rng.random() * (0.9 if rng.random() < risky else 0.5)
        category = (
            Category.PRIVACY if risk > 0.6 else (Category.COMPLAINT if unhappy else Category.OTHER)
        )
        mention = Mention(
            source="x",
            external_id=str(i),
            text=f"{brand} {text}",
            author=f"user{rng.randint(1, 50_000)}",
            author_followers=rng.choice([50, 300, 2_000, 20_000, 250_000]),
            published_at=start + timedelta(seconds=i * 0.5),
            source_kind="x",
        )
        score = Score(
            dissatisfaction=0.8 if unhappy else 0.1,
            dissatisfied=unhappy,
            incident_risk=risk,
            category=category,
        )
        out.append(StoredMention(id=i + 1, brand=brand, mention=mention, score=score))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--dissatisfied", type=float, default=0.15)
    parser.add_argument("--risky", type=float, default=0.02)
    args = parser.parse_args()
    bench = _checkout_bench()
    brands = [f"Brand{i}" for i in range(20)]
    mentions = stream(args.mentions, brands, bench.WORDS, args.dissatisfied, args.risky)
    began = time.process_time()
    bench.bench_pure(mentions, brands)
    spent = time.process_time() - began
    print(f"{Path.cwd()}: {spent / len(mentions) * 1e6:.1f} µs CPU per mention")


if __name__ == "__main__":
    main()
