"""How much incident detection costs per mention, on one core.

    python bench/bench_detection.py [--mentions 200000] [--brands 20]

Two figures:
- pure detection (`listener.incidents`): turning a stored mention into an observation
  (tokenising its text) and running the spike test, grouping and severity over it;
- the after-store step on a real SQLite store: the same plus locking and saving each brand's
  state, and saving the incidents it opens or grows, in batches of 2,000 as the pipeline does.

The target is at least 5,000 mentions/s (0.2 ms per mention) for the detector.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.domain import Category, IngestItem, Mention, Score, StoredMention
from listener.incidents.detector import ActiveIncident, BrandState, Detector, observe
from listener.incidents.terms import brand_words
from listener.incidents.tracking import IncidentTracker, detection_rules
from listener.settings import validate_settings
from listener.store import Store, story_key

_VOCABULARY = """
    signal plan bill roaming upgrade shop contract data app coverage phone price network
    store refund delivery flight lounge crew bag seat delay card branch mortgage savings
"""
WORDS = _VOCABULARY.split()


def synthetic(n: int, brands: list[str], start: datetime) -> list[StoredMention]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        brand = brands[i % len(brands)]
        at = start + timedelta(seconds=i * 0.5)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
        unhappy = rng.random() < 0.15
        risk = rng.random() * (0.9 if rng.random() < 0.02 else 0.5)
        category = (
            Category.PRIVACY if risk > 0.6 else (Category.COMPLAINT if unhappy else Category.OTHER)
        )
        mention = Mention(
            source="x",
            external_id=str(i),
            text=f"{brand} {words}",
            author=f"user{rng.randint(1, 50_000)}",
            author_followers=rng.choice([50, 300, 2_000, 20_000, 250_000]),
            published_at=at,
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


def bench_pure(mentions: list[StoredMention], brands: list[str]) -> float:
    settings = validate_settings({"brands": [{"name": b, "terms": [b]} for b in brands]})
    rules = detection_rules(settings)
    detector = Detector(rules)
    ignore = {b: brand_words([b]) for b in brands}
    states = {b: BrandState() for b in brands}
    incidents: dict[str, list[ActiveIncident]] = {b: [] for b in brands}
    began = time.perf_counter()
    for start in range(0, len(mentions), 2000):
        batch = mentions[start : start + 2000]
        now = batch[-1].mention.published_at or datetime.now(UTC)
        by_brand: dict[str, list[StoredMention]] = {}
        for s in batch:
            by_brand.setdefault(s.brand, []).append(s)
        for brand, items in by_brand.items():
            obs = [observe(s, rules, ignore[brand], story_key(s.mention)) for s in items]
            detector.process(states[brand], incidents[brand], obs, now)
    elapsed = time.perf_counter() - began
    opened = sum(len(v) for v in incidents.values())
    print(
        f"pure detection: {len(mentions):,} mentions in {elapsed:.2f} s: "
        f"{elapsed / len(mentions) * 1e6:.1f} µs per mention, "
        f"{len(mentions) / elapsed:,.0f} mentions/s ({opened} incidents opened)"
    )
    return elapsed


def bench_step(mentions: list[StoredMention], brands: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = validate_settings(
            {
                "database": {"url": f"sqlite:///{Path(tmp) / 'bench.db'}"},
                "brands": [{"name": b, "terms": [b]} for b in brands],
            }
        )
        store = Store.open(settings.database_url)
        store.ensure_brands(brands, datetime.now(UTC))
        tracker = IncidentTracker(settings, store)
        spent = 0.0
        for start in range(0, len(mentions), 2000):
            batch = mentions[start : start + 2000]
            now = batch[-1].mention.published_at or datetime.now(UTC)
            stored = store.ingest(
                [IngestItem(s.mention, s.brand, s.brand, s.score) for s in batch], at=now
            )
            began = time.perf_counter()
            tracker(stored, now)
            spent += time.perf_counter() - began
        store.close()
    print(
        f"after-store step on SQLite: {len(mentions):,} mentions in {spent:.2f} s: "
        f"{spent / len(mentions) * 1e6:.1f} µs per mention, "
        f"{len(mentions) / spent:,.0f} mentions/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--brands", type=int, default=20)
    parser.add_argument("--step-mentions", type=int, default=40_000)
    args = parser.parse_args()
    brands = [f"Brand{i}" for i in range(args.brands)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    bench_pure(synthetic(args.mentions, brands, start), brands)
    bench_step(synthetic(args.step_mentions, brands, start), brands)


if __name__ == "__main__":
    main()
