"""Scorer throughput and peak memory on N texts, on one core.

    python bench/bench_scorer.py [--n 20000] [--batch 500 ...] [--model default|lexicon|DIR]
                                 [--texts FILE] [--default-gc]

Texts come from --texts (one per line, e.g. ../shared/data/tweeteval/sentiment/test_text.txt)
or are synthesised from brand-mention templates. Prints weight-loading time, texts/s and the
process's peak resident memory. Throughput is per second of CPU time, so other work on a
shared machine does not distort it; the wall-clock rate is printed beside it.

Several --batch sizes are timed one after another on the same scorer, e.g. `--batch 2000 5`
for a backlog and for a feed poll's few texts (where the per-call cost shows). Batches of
fewer than 100 texts score at most --small-n texts, so a run stays short. The sizes share one
scorer, and so the words its vectorizer remembers: with texts from a file, time one size per
run to start each from the same state.
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

from listener._process import settle_heap, tune_garbage_collector  # noqa: E402
from listener.domain import Mention  # noqa: E402
from listener.scoring import Scorer, make_scorer  # noqa: E402
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


# A short Latin-script text that is not clearly English, so its language must be identified.
WARM_UP = "la app no funciona desde ayer"


def synthetic_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(OPENINGS)} {rng.choice(BODIES).format(n=rng.randint(2, 48))}".strip()
        for _ in range(count)
    ]


def _throughput(
    scorer: Scorer, mentions: Sequence[Mention], batch: int, small_n: int
) -> tuple[int, float, float, int]:
    """Texts scored, CPU seconds, wall seconds and dissatisfied count, in batches of `batch`."""
    if batch < 100:
        mentions = mentions[:small_n]
    started, cpu_started = time.perf_counter(), time.process_time()
    dissatisfied = 0
    for start in range(0, len(mentions), batch):
        for score in scorer.score_batch(mentions[start : start + batch]):
            dissatisfied += score.dissatisfied
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return len(mentions), cpu, elapsed, dissatisfied


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[500])
    parser.add_argument("--small-n", type=int, default=5_000)
    parser.add_argument("--model", default="default")
    parser.add_argument("--texts", type=Path, help="a file with one text per line")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's garbage collector settings instead of the service's (to compare)",
    )
    args = parser.parse_args(argv)
    if not args.default_gc:
        tune_garbage_collector()  # as the `listener` command and the scoring workers do

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
    # Models load on first use: the language identifier only when a text needs it, so the
    # warm-up includes one that does.
    scorer.score_batch([*mentions[:1], Mention(source="bench", external_id="warm", text=WARM_UP)])
    settle_heap()
    loaded = time.perf_counter() - started

    rates = [(batch, *_throughput(scorer, mentions, batch, args.small_n)) for batch in args.batch]

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scorer      {scorer.version} (model={args.model!r})")
    print(f"texts       {len(texts)} from {origin}")
    print(
        f"load        {loaded * 1000:.0f} ms (weights, VADER lexicon, language model, first call)"
    )
    for batch, count, cpu, elapsed, dissatisfied in rates:
        print(
            f"batch {batch:<5} {count / cpu:,.0f} texts per CPU-second on one core "
            f"({count / elapsed:,.0f} wall-clock texts/s; {count} texts; "
            f"dissatisfied {dissatisfied / count:.1%})"
        )
    print(f"peak memory {peak_mib:,.0f} MiB resident (whole process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
