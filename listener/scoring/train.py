"""Train the dissatisfaction model and write its weights.

    python -m listener.scoring.train --data ../shared/data [--labels feedback.jsonl] [--out DIR]
                                     [--keep-english WEIGHTS_DIR]

`--data` is laid out like ../shared/data (complaints/, tweeteval/, and multilingual/ for the
other languages); `--keep-english` keeps a weights directory's English models as they are and
trains only the other languages on top; `--labels` adds JSON
lines of {"text": ..., "dissatisfied": true|false} that people gave in the review queue. Only
the train splits are used (see `training_data`); the held-out splits are scored at the end so
every run says how well it did. Point `scoring.model` at `--out` to use the new weights.

How it fits together (all with a fixed seed, so a rerun gives the same weights):
1. IDF over the training texts; hashed word 1-2-grams + char 2-5-grams.
2. Four logistic regressions: complaint (complaints train split, including its random-tweet
   negatives), negativity (TweetEval sentiment train split + TweetEval emotion), joint (all of
   it, each dataset weighted equally, plus feedback labels), offensive (TweetEval offensive).
3. Their out-of-fold log-odds (5 folds) plus VADER and cue features train the stacker, on tweets
   addressed to brands (complaints without the random-tweet rows), TweetEval and feedback, each
   class weighted equally within its dataset: so 0.5 is even odds when dissatisfied and not are
   equally likely a priori (the threshold setting moves the trade-off).
4. With multilingual/ present: a fifth logistic regression on the same features (English IDF)
   over the non-English training rows, each language weighted equally, and its own stacker on
   its out-of-fold log-odds, the joint model's, the cue features and an offset per language.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from listener.domain import Mention
from listener.errors import SettingsError
from listener.scoring.lexicon import NEWS_WEIGHT, lexicon_evidence
from listener.scoring.model import (
    BASE_MODELS,
    CENTRED_FEATURES,
    MULTILINGUAL_FEATURES,
    STACKER_FEATURES,
    ModelScorer,
    ModelWeights,
    MultilingualStack,
    TextVectorizer,
    VectorizerConfig,
    lexicon_features,
    load_weights,
    save_weights,
)
from listener.scoring.reading import SentimentAnalyzer, read, vader
from listener.scoring.training_data import (
    MULTILINGUAL_DATASETS,
    SPLIT_SALT,
    TEST_PERCENT,
    UNSEEN_DOMAINS,
    DataError,
    Example,
    Split,
    load_complaints,
    load_feedback_labels,
    load_multilingual,
    load_tweeteval_emotion,
    load_tweeteval_offensive,
    load_tweeteval_sentiment,
    only,
)

SEED = 20190728
FOLDS = 5
C_COMPLAINT = 3.0
C_NEGATIVITY = 1.0
C_JOINT = 3.0
C_OFFENSIVE = 1.0
C_STACKER = 1.0
C_MULTILINGUAL = 3.0
C_MULTILINGUAL_STACKER = 1.0
MULTILINGUAL_CITATIONS = [
    "Barbieri, Espinosa Anke & Camacho-Collados, XLM-T: Multilingual Language Models in "
    "Twitter for Sentiment Analysis and Beyond, LREC 2022 (UMSAB: SemEval-2017, DEFT 2017, "
    "SB-10K, SAIL 2015, SENTIPOLC 2016, TweetSentBR, InterTASS 2017)",
    "SophonPlus/ChineseNlpCorpus waimai_10k (food-delivery reviews; no licence stated)",
    "Tan & Zhang, An empirical study of sentiment analysis for Chinese documents, Expert "
    "Systems with Applications 2008 (ChnSentiCorp hotel reviews; no licence stated)",
]
# How much each dataset counts when the stacker learns to weigh its inputs. TweetEval counts
# more because generic sentiment is where the lexicon and complaint model are weakest.
JOINT_DATASET_WEIGHT = {"complaints": 1.0, "tweeteval": 4.0, "feedback": 1.0}
STACKER_DATASET_WEIGHT = {"complaints": 1.0, "tweeteval": 2.0, "feedback": 1.0}
DEFAULT_VERSION = "model-3"

Array = npt.NDArray[np.float64]


def _labels(examples: Sequence[Example]) -> npt.NDArray[np.bool_]:
    return np.array([e.dissatisfied for e in examples], dtype=bool)


def _logistic(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=5000)


def _out_of_fold(
    model: LogisticRegression,
    x: object,
    y: npt.NDArray[np.bool_],
    weight: Array | None = None,
) -> tuple[LogisticRegression, Array]:
    """Log-odds for each row from a model that never saw it, and the model fit on all rows."""
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    out = np.zeros(len(y))
    for train_rows, test_rows in folds.split(np.zeros(len(y)), y):
        fold = clone(model)
        fold.fit(x[train_rows], y[train_rows], sample_weight=_rows(weight, train_rows))  # type: ignore[index]
        out[test_rows] = fold.decision_function(x[test_rows])  # type: ignore[index]
    model.fit(x, y, sample_weight=weight)
    return model, out


def _rows(weight: Array | None, rows: npt.NDArray[np.intp]) -> Array | None:
    return None if weight is None else weight[rows]


def _balanced(examples: Sequence[Example], dataset_weight: dict[str, float]) -> Array:
    """Each dataset gets its share of the total weight, split equally between its classes."""
    weight = np.zeros(len(examples))
    groups: dict[tuple[str, bool], list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault((e.dataset, e.dissatisfied), []).append(i)
    total = sum(dataset_weight[d] for d in {e.dataset for e in examples})
    for (dataset, _), rows in groups.items():
        classes = sum(1 for key in groups if key[0] == dataset)
        share = dataset_weight[dataset] / total / classes
        weight[rows] = share * len(examples) / len(rows)
    return weight


def train(
    examples: Sequence[Example], version: str = DEFAULT_VERSION, log: bool = True
) -> ModelWeights:
    """Fit the three base models and the stacker on the TRAIN examples given."""
    started = time.perf_counter()
    analyzer = vader()
    train_rows = [
        e for e in examples if e.split is Split.TRAIN and e.dataset not in MULTILINGUAL_DATASETS
    ]
    other_rows = [
        e for e in examples if e.split is Split.TRAIN and e.dataset in MULTILINGUAL_DATASETS
    ]
    mentions = [
        Mention(source="train", external_id=str(i), text=e.text) for i, e in enumerate(train_rows)
    ]
    readings = [read(m, analyzer) for m in mentions]
    texts = [r.text for r in readings]
    index = {id(e): i for i, e in enumerate(train_rows)}

    config = VectorizerConfig()
    probe = TextVectorizer(config, np.ones(2 * config.n_features))
    counts = probe.counts(texts)
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0
    # Stored as float16, so train on exactly what the service will load.
    idf = idf.astype(np.float16).astype(np.float64)
    vectorizer = TextVectorizer(config, idf)
    x_all = vectorizer.transform(texts)

    def rows_of(group: Sequence[Example]) -> npt.NDArray[np.intp]:
        return np.array([index[id(e)] for e in group], dtype=np.intp)

    complaints = [e for e in train_rows if e.dataset == "complaints"]
    sentiment = [e for e in train_rows if e.dataset == "tweeteval"]
    emotion = [e for e in train_rows if e.dataset == "emotion"]
    feedback = [e for e in train_rows if e.dataset == "feedback"]
    offensive = [e for e in train_rows if e.dataset == "offensive"]
    if not complaints or not sentiment or not offensive:
        raise DataError(
            "training needs the complaints data and TweetEval sentiment and offensive data"
        )

    _say(
        log,
        f"training on {len(complaints)} complaints, {len(sentiment)} sentiment, "
        f"{len(emotion)} emotion, {len(offensive)} offensive and {len(feedback)} feedback "
        "examples",
    )
    complaint_model, complaint_oof = _out_of_fold(
        _logistic(C_COMPLAINT), x_all[rows_of(complaints)], _labels(complaints)
    )
    negative_set = sentiment + emotion
    negativity_model, negativity_oof = _out_of_fold(
        _logistic(C_NEGATIVITY), x_all[rows_of(negative_set)], _labels(negative_set)
    )
    joint_set = complaints + negative_set + feedback
    joint_weight = _balanced(
        [_as_dataset(e, "tweeteval" if e.dataset == "emotion" else e.dataset) for e in joint_set],
        JOINT_DATASET_WEIGHT,
    )
    joint_model, joint_oof = _out_of_fold(
        _logistic(C_JOINT), x_all[rows_of(joint_set)], _labels(joint_set), joint_weight
    )

    offensive_model = _logistic(C_OFFENSIVE).fit(x_all[rows_of(offensive)], _labels(offensive))

    # Out-of-fold log-odds where a model trained on the row, direct ones where it did not.
    logits = np.column_stack(
        [
            complaint_model.decision_function(x_all),
            negativity_model.decision_function(x_all),
            joint_model.decision_function(x_all),
            offensive_model.decision_function(x_all),
        ]
    )
    logits[rows_of(complaints), 0] = complaint_oof
    logits[rows_of(negative_set), 1] = negativity_oof
    logits[rows_of(joint_set), 2] = joint_oof
    # The stacker never trains on offensive rows, so the offensive model needs no folds.

    stacker_set = (
        [e for e in complaints if not e.domain.startswith("random")] + sentiment + feedback
    )
    stack_rows = rows_of(stacker_set)
    lexicon = np.array(
        [
            lexicon_features(readings[i], lexicon_evidence(readings[i], mentions[i]))
            for i in stack_rows
        ]
    )
    features = np.column_stack([logits[stack_rows], lexicon])
    stacker = LogisticRegression(C=C_STACKER, max_iter=5000)
    stacker.fit(
        features, _labels(stacker_set), sample_weight=_balanced(stacker_set, STACKER_DATASET_WEIGHT)
    )
    stacker_coef = stacker.coef_[0].astype(np.float64)
    # Tweets never read like news reports, so the data cannot weigh that input: keep the
    # lexicon's hand-set weight (a reporter is not an unhappy customer).
    news = STACKER_FEATURES.index("news")
    if not features[:, news].any():
        stacker_coef[news] = NEWS_WEIGHT

    models = [complaint_model, negativity_model, joint_model, offensive_model]
    multilingual = None
    if other_rows:
        multilingual_model, multilingual = _train_multilingual(
            other_rows, vectorizer, joint_model.decision_function, analyzer, log
        )
        models.append(multilingual_model)
    coef = np.column_stack([model.coef_[0] for model in models]).astype(np.float32)
    intercept = np.array([model.intercept_[0] for model in models])
    meta = {
        "trained_on": {
            "complaints": len(complaints),
            "tweeteval_sentiment": len(sentiment),
            "tweeteval_emotion": len(emotion),
            "tweeteval_offensive": len(offensive),
            "feedback": len(feedback),
            **_multilingual_counts(other_rows),
        },
        "datasets": [
            "Preotiuc-Pietro, Gaman & Aletras, Automatically Identifying Complaints in Social "
            "Media, ACL 2019",
            "Barbieri et al., TweetEval: Unified Benchmark and Comparative Evaluation for "
            "Tweet Classification, Findings of EMNLP 2020",
            *(MULTILINGUAL_CITATIONS if other_rows else []),
        ],
        "splits": {
            "salt": SPLIT_SALT,
            "test_percent": TEST_PERCENT,
            "unseen_domains": sorted(UNSEEN_DOMAINS),
        },
        "hyperparameters": {
            "seed": SEED,
            "folds": FOLDS,
            "C": {
                "complaint": C_COMPLAINT,
                "negativity": C_NEGATIVITY,
                "joint": C_JOINT,
                "offensive": C_OFFENSIVE,
                "stacker": C_STACKER,
                "multilingual": C_MULTILINGUAL,
                "multilingual_stacker": C_MULTILINGUAL_STACKER,
            },
            "joint_dataset_weight": JOINT_DATASET_WEIGHT,
            "stacker_dataset_weight": STACKER_DATASET_WEIGHT,
            "tf": "sublinear",
            "norm": "l2",
        },
    }
    _say(log, f"trained in {time.perf_counter() - started:.1f} s")
    weights = ModelWeights(
        version=version,
        vectorizer=vectorizer,
        coef=coef.astype(np.float64),
        intercept=intercept,
        stacker_coef=stacker_coef,
        stacker_intercept=float(stacker.intercept_[0]),
        centres={
            name: float(np.median(features[:, STACKER_FEATURES.index(name)]))
            for name in CENTRED_FEATURES
        },
        meta=meta,
        multilingual=multilingual,
    )
    for name, value in zip(STACKER_FEATURES, weights.stacker_coef, strict=True):
        _say(log, f"  stacker weight {name:>22}: {value:+.3f}")
    assert coef.shape[1] == len(BASE_MODELS) + (multilingual is not None)
    return weights


def _train_multilingual(
    rows: Sequence[Example],
    vectorizer: TextVectorizer,
    joint_logit: Callable[[Any], Array],
    analyzer: SentimentAnalyzer,
    log: bool,
) -> tuple[LogisticRegression, MultilingualStack]:
    """The multilingual base model and its stacker, on the non-English training rows.

    The features are the English model's (same hashing, same IDF: an n-gram English never
    had gets the largest IDF), so the English models and their scores stay exactly as they
    were, and scoring a text costs one more column of the same product. Every language
    counts the same, each class half of it, so 0.5 is even odds in every language.
    """
    languages = tuple(sorted({e.lang for e in rows}))
    _say(
        log,
        "training the multilingual model on "
        + ", ".join(f"{n} {lang}" for lang, n in sorted(Counter(e.lang for e in rows).items())),
    )
    mentions = [
        Mention(source="train", external_id=str(i), text=e.text) for i, e in enumerate(rows)
    ]
    readings = [read(m, analyzer) for m in mentions]
    x = vectorizer.transform([r.text for r in readings])
    y = _labels(rows)
    weight = _balanced([_as_dataset(e, e.lang) for e in rows], dict.fromkeys(languages, 1.0))
    model, out_of_fold = _out_of_fold(_logistic(C_MULTILINGUAL), x, y, weight)
    joint = joint_logit(x)
    lexicon = np.array(
        [
            [values[4], values[5], values[6]]
            for values in (
                lexicon_features(r, lexicon_evidence(r, m))
                for r, m in zip(readings, mentions, strict=True)
            )
        ]
    )
    one_hot = np.array([[e.lang == lang for lang in languages] for e in rows], dtype=np.float64)
    features = np.column_stack([out_of_fold, joint, lexicon, one_hot])
    stacker = LogisticRegression(C=C_MULTILINGUAL_STACKER, max_iter=5000)
    stacker.fit(features, y, sample_weight=weight)
    coef = stacker.coef_[0].astype(np.float64)
    width = len(MULTILINGUAL_FEATURES)
    stack = MultilingualStack(
        languages=languages,
        coef=coef[:width],
        offsets={
            lang: float(stacker.intercept_[0] + coef[width + i]) for i, lang in enumerate(languages)
        },
        centres={"multilingual": float(np.median(out_of_fold)), "joint": float(np.median(joint))},
    )
    for name, value in zip(MULTILINGUAL_FEATURES, stack.coef, strict=True):
        _say(log, f"  multilingual stacker weight {name:>14}: {value:+.3f}")
    return model, stack


def add_languages(
    english: ModelWeights, examples: Sequence[Example], version: str, log: bool = True
) -> ModelWeights:
    """`english`'s weights as they are, plus a multilingual model and stack trained on the
    non-English TRAIN examples: English scores stay exactly what they were."""
    started = time.perf_counter()
    rows = [e for e in examples if e.split is Split.TRAIN and e.dataset in MULTILINGUAL_DATASETS]
    if not rows:
        raise DataError("adding languages needs the multilingual data (multilingual/ in --data)")
    columns = len(BASE_MODELS)
    coef, intercept = english.coef[:, :columns], english.intercept[:columns]
    joint = BASE_MODELS.index("joint")

    def joint_logit(x: Any) -> Array:
        logits: Array = np.asarray(x @ coef[:, joint], dtype=np.float64) + intercept[joint]
        return logits

    model, stack = _train_multilingual(rows, english.vectorizer, joint_logit, vader(), log)
    meta = dict(english.meta)
    trained_on = {
        k: v
        for k, v in dict(meta.get("trained_on", {})).items()
        if k.split("_")[0] not in MULTILINGUAL_DATASETS
    }
    trained_on.update(_multilingual_counts(rows))
    datasets = [d for d in meta.get("datasets", []) if d not in MULTILINGUAL_CITATIONS]
    meta.update(
        trained_on=trained_on,
        datasets=[*datasets, *MULTILINGUAL_CITATIONS],
        english_from=english.meta.get("english_from", english.version),
    )
    hyper = dict(meta.get("hyperparameters", {}))
    hyper["C"] = {
        **dict(hyper.get("C", {})),
        "multilingual": C_MULTILINGUAL,
        "multilingual_stacker": C_MULTILINGUAL_STACKER,
    }
    meta["hyperparameters"] = hyper
    _say(log, f"trained in {time.perf_counter() - started:.1f} s")
    return ModelWeights(
        version=version,
        vectorizer=english.vectorizer,
        coef=np.column_stack([coef, model.coef_[0].astype(np.float32)]).astype(np.float64),
        intercept=np.append(intercept, model.intercept_[0]),
        stacker_coef=english.stacker_coef,
        stacker_intercept=english.stacker_intercept,
        centres=english.centres,
        meta=meta,
        multilingual=stack,
    )


def _multilingual_counts(rows: Sequence[Example]) -> dict[str, int]:
    return {
        f"{dataset}_{lang}": n
        for (dataset, lang), n in sorted(Counter((e.dataset, e.lang) for e in rows).items())
    }


def _as_dataset(example: Example, dataset: str) -> Example:
    return Example(
        example.text, example.dissatisfied, dataset, example.split, example.domain, example.lang
    )


def _say(log: bool, message: str) -> None:
    if log:
        print(message, file=sys.stderr)


def held_out_report(weights: ModelWeights, examples: Sequence[Example]) -> list[str]:
    """F1 and ROC-AUC of the dissatisfied class on each held-out split."""
    scorer = ModelScorer(weights)
    lines = []
    held_out = [
        (label, only(examples, split, dataset))
        for label, split, dataset in (
            ("complaints test", Split.TEST, "complaints"),
            ("complaints unseen domains", Split.UNSEEN_DOMAIN, "complaints"),
            ("tweeteval negative-vs-rest test", Split.TEST, "tweeteval"),
        )
    ]
    others = [e for e in examples if e.split is Split.TEST and e.dataset in MULTILINGUAL_DATASETS]
    for lang in sorted({e.lang for e in others}):
        held_out.append((f"{lang} held out", [e for e in others if e.lang == lang]))
    for label, rows in held_out:
        if not rows:
            continue
        scores = scorer.score_batch(
            [Mention(source="eval", external_id=str(i), text=e.text) for i, e in enumerate(rows)]
        )
        y = _labels(rows)
        p = np.array([s.dissatisfaction for s in scores])
        auc = roc_auc_score(y, p) if 0 < y.sum() < len(y) else float("nan")
        lines.append(
            f"{label:<32} n={len(rows):>5}  F1 {f1_score(y, p >= 0.5):.3f}  ROC-AUC {auc:.3f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m listener.scoring.train",
        description="Train listener's dissatisfaction model and write its weights.",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="directory laid out like ../shared/data"
    )
    parser.add_argument(
        "--labels", type=Path, help='JSON lines of {"text": ..., "dissatisfied": true|false}'
    )
    parser.add_argument(
        "--out", type=Path, default=Path("scoring-weights"), help="where to write the weights"
    )
    parser.add_argument("--version", default=DEFAULT_VERSION, help="version stamped on scores")
    parser.add_argument(
        "--keep-english",
        type=Path,
        metavar="WEIGHTS_DIR",
        help="keep these weights' English models as they are and train only the other "
        "languages on top (English scores do not change)",
    )
    args = parser.parse_args(argv)
    try:
        if not args.data.is_dir():
            raise DataError(f"--data {args.data}: no such directory")
        sentiment = load_tweeteval_sentiment(args.data)
        examples = load_complaints(args.data) + sentiment
        sentiment_texts = {e.text for e in sentiment}
        examples += load_tweeteval_emotion(args.data, sentiment_texts)
        examples += load_tweeteval_offensive(args.data, sentiment_texts)
        examples += load_multilingual(args.data)
        if args.labels is not None:
            examples += load_feedback_labels(args.labels)
        if args.keep_english is not None:
            english = load_weights(args.keep_english.resolve())
            weights = add_languages(english, examples, version=args.version)
        else:
            weights = train(examples, version=args.version)
    except (DataError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_weights(args.out, weights)
    print(f"wrote {args.out / 'weights.json'} and {args.out / 'weights.npz'}")
    # Report on the weights as written (float16), exactly as the service will load them.
    for line in held_out_report(load_weights(args.out.resolve()), examples):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
