"""Scorer throughput and peak memory on N texts, on one core.

    python bench/bench_scorer.py [--n 20000] [--batch 500] [--model default|lexicon|DIR]
                                 [--texts FILE]

Texts come from --texts (one per line, e.g. ../shared/data/tweeteval/sentiment/test_text.txt)
or are synthesised from brand-mention templates. Prints weight-loading time, texts/s and the
process's peak resident memory. Throughput is per second of CPU time, so other work on a
shared machine does not distort it; the wall-clock rate is printed beside it.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from listener.domain import Mention  # noqa: E402
from listener.scoring import make_scorer  # noqa: E402
from listener.settings import ScoringSettings  # noqa: E402

OPENINGS = ["@Acme", "@AcmeHelp", "Hey @Acme", "Dear @Acme,", "So @Acme", ""]
BODIES = [
    "still on hold after {n} hours, this is ridiculous",
    "thanks for sorting my refund so quickly, great service",
    "I keep getting spam texts from you and they won't stop",
    "is the app down? it won't load since {n} this morning",
    "how do I change the address on my account?",
    "you are sending my phone number to every website I visit",
    "great, another {n} hour delay, thanks",
    "love the new update, works perfectly",
    "charged me twice for order #{n}, still no reply from support",
    "la app no funciona desde hace {n} días, pésimo servicio",
    "just landed, flight was on time and the crew were lovely",
    "reports say Acme confirms a data breach affecting {n} million customers",
]


def synthetic_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(OPENINGS)} {rng.choice(BODIES).format(n=rng.randint(2, 48))}".strip()
        for _ in range(count)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--model", default="default")
    parser.add_argument("--texts", type=Path, help="a file with one text per line")
    args = parser.parse_args(argv)

    if args.texts:
        lines = [t for t in args.texts.read_text(encoding="utf-8").splitlines() if t.strip()]
        texts = [lines[i % len(lines)] for i in range(args.n)]
        origin = str(args.texts)
    else:
        texts = synthetic_texts(args.n)
        origin = "synthetic brand mentions"
    mentions = [Mention(source="bench", external_id=str(i), text=t) for i, t in enumerate(texts)]

    started = time.perf_counter()
    scorer = make_scorer(ScoringSettings(model=args.model))
    scorer.score_batch(mentions[:1])
    loaded = time.perf_counter() - started

    started, cpu_started = time.perf_counter(), time.process_time()
    dissatisfied = 0
    for start in range(0, len(mentions), args.batch):
        for score in scorer.score_batch(mentions[start : start + args.batch]):
            dissatisfied += score.dissatisfied
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scorer      {scorer.version} (model={args.model!r})")
    print(f"texts       {len(texts)} from {origin}, batches of {args.batch}")
    print(f"load        {loaded * 1000:.0f} ms (weights, VADER lexicon, first call)")
    print(f"throughput  {len(texts) / cpu:,.0f} texts per CPU-second on one core")
    print(
        f"wall clock  {len(texts) / elapsed:,.0f} texts/s (lower when other work shares the core)"
    )
    print(f"dissatisfied {dissatisfied / len(texts):.1%} of texts")
    print(f"peak memory {peak_mib:,.0f} MiB resident (whole process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
