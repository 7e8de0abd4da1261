"""Held-out evaluation: VADER alone against listener's scorers, side by side, in one run.

    python bench/eval_scoring.py [--data ../shared/data] [--batch 500]

Reads only the held-out splits (see listener/scoring/training_data.py: a salted hash of the
tweet id for the complaints data, of the text for TweetEval; plus two complaint domains the
model never saw) and prints accuracy, macro-F1, ROC-AUC, F1 of the dissatisfied class and
throughput for each scorer. VADER is used as its authors recommend: compound <= -0.05 is
negative. Throughput is texts per second of CPU time on one core (BLAS threads are pinned to
1), best of three runs, in batches of --batch mentions.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score  # noqa: E402

from listener.domain import Mention  # noqa: E402
from listener.scoring import make_scorer  # noqa: E402
from listener.scoring.reading import vader  # noqa: E402
from listener.scoring.training_data import (  # noqa: E402
    DataError,
    Example,
    Split,
    load_complaints,
    load_tweeteval_sentiment,
    only,
)
from listener.settings import ScoringSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
VADER_NEGATIVE = -0.05
TIMING_RUNS = 3
TARGET_GAIN = {"complaints test": 0.15, "tweeteval neg-vs-rest test": 0.10}


@dataclass
class Result:
    split: str
    scorer: str
    n: int
    accuracy: float
    macro_f1: float
    auc: float
    f1: float
    rate: float


Predict = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]


def vader_predict(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    analyzer = vader()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in texts])
    return compound <= VADER_NEGATIVE, -compound


def scorer_predict(model: str, batch: int) -> Predict:
    scorer = make_scorer(ScoringSettings(model=model))
    scorer.score_batch([Mention(source="warm", external_id="0", text="warm up")])

    def predict(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        decided: list[bool] = []
        probability: list[float] = []
        for start in range(0, len(texts), batch):
            mentions = [
                Mention(source="eval", external_id=str(start + i), text=text)
                for i, text in enumerate(texts[start : start + batch])
            ]
            for score in scorer.score_batch(mentions):
                decided.append(score.dissatisfied)
                probability.append(score.dissatisfaction)
        return np.array(decided), np.array(probability)

    return predict


def evaluate(split: str, name: str, predict: Predict, rows: Sequence[Example]) -> Result:
    texts = [e.text for e in rows]
    y = np.array([e.dissatisfied for e in rows])
    # CPU time of this (single-threaded) process, best of a few runs: on a shared machine,
    # wall-clock time also counts the time other processes held the core.
    elapsed = float("inf")
    for _ in range(TIMING_RUNS):
        started = time.process_time()
        decided, score = predict(texts)
        elapsed = min(elapsed, time.process_time() - started)
    return Result(
        split=split,
        scorer=name,
        n=len(rows),
        accuracy=float(accuracy_score(y, decided)),
        macro_f1=float(f1_score(y, decided, average="macro")),
        auc=float(roc_auc_score(y, score)),
        f1=float(f1_score(y, decided)),
        rate=len(rows) / elapsed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="like ../shared/data")
    parser.add_argument("--batch", type=int, default=500, help="mentions per score_batch call")
    args = parser.parse_args(argv)
    try:
        if not args.data.is_dir():
            raise DataError(f"no data directory at {args.data}")
        complaints = load_complaints(args.data)
        sentiment = load_tweeteval_sentiment(args.data)
    except DataError as exc:
        print(
            f"eval_scoring: {exc}\n"
            "It needs the labelled data laid out like ../shared/data (complaints/, tweeteval/); "
            "pass --data DIR.",
            file=sys.stderr,
        )
        return 2
    splits = {
        "complaints test": only(complaints, Split.TEST),
        "complaints unseen domains": only(complaints, Split.UNSEEN_DOMAIN),
        "tweeteval neg-vs-rest test": only(sentiment, Split.TEST),
    }
    scorers: dict[str, Predict] = {
        "VADER (compound <= -0.05)": vader_predict,
        "listener default": scorer_predict("default", args.batch),
        "listener lexicon only": scorer_predict("lexicon", args.batch),
    }
    results = [
        evaluate(split, name, predict, rows)
        for split, rows in splits.items()
        for name, predict in scorers.items()
    ]
    header = (
        f"{'held-out split':<28} {'scorer':<26} {'n':>5} {'acc':>6} {'macroF1':>8} "
        f"{'ROC-AUC':>8} {'F1 dis.':>8} {'texts/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.split:<28} {r.scorer:<26} {r.n:>5} {r.accuracy:>6.3f} {r.macro_f1:>8.3f} "
            f"{r.auc:>8.3f} {r.f1:>8.3f} {r.rate:>8.0f}"
        )
    print()
    by = {(r.split, r.scorer): r for r in results}
    for split, gain in TARGET_GAIN.items():
        base = by[(split, "VADER (compound <= -0.05)")].f1
        ours = by[(split, "listener default")].f1
        verdict = "met" if ours - base >= gain else "NOT met"
        print(
            f"{split}: F1 {ours:.3f} vs VADER {base:.3f} = {ours - base:+.3f} "
            f"(target +{gain:.2f}: {verdict})"
        )
    rate = min(r.rate for r in results if r.scorer == "listener default")
    print(f"default scorer throughput (slowest split): {rate:.0f} texts/s (target 5000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
