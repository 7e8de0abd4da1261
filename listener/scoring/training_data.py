"""Labelled data for training and evaluating the dissatisfaction model, and its fixed splits.

Read only by the training script and the evaluation bench, never by the service. A data
directory is laid out like `../shared/data/`:

    complaints/complaints-data.csv     Preotiuc-Pietro et al. (ACL 2019): tweet_id, text,
                                       label (1 = complaint), domain; no header
    tweeteval/sentiment/{val,test}_{text,labels}.txt
                                       TweetEval (Barbieri et al. 2020) sentiment:
                                       0 negative, 1 neutral, 2 positive

Splits are decided by a salted hash of a stable key (the tweet id for complaints, the text for
TweetEval, whose train texts are not available), so they never change between runs or
machines and the same tweet text can never sit on both sides. Two whole complaint domains are
held out as well, to measure how the model does on industries it never saw.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SPLIT_SALT = "listener-scoring-v1"
# Percent of each dataset in each split (the rest is train).
TEST_PERCENT = 20
# Domains of the complaints data the shipped model never trains on.
UNSEEN_DOMAINS = frozenset({"food", "cars"})

COMPLAINTS_FILE = Path("complaints") / "complaints-data.csv"
TWEETEVAL_DIR = Path("tweeteval") / "sentiment"
EMOTION_DIR = Path("tweeteval") / "emotion"
MULTILINGUAL_DIR = Path("multilingual")
# The multilingual sets: UMSAB tweets (its English part is left out: most of it is TweetEval,
# whose test split must stay unseen), and two Chinese review sets.
UMSAB_FILES = {"train": "xlm_t_umsab/train.jsonl", "test": "xlm_t_umsab/val.jsonl"}
CHINESE_REVIEW_FILES = {
    "waimai": "waimai_10k/train.jsonl",
    "chnsenticorp": "chnsenticorp_htl_all/train.jsonl",
}
MULTILINGUAL_DATASETS = frozenset({"umsab", *CHINESE_REVIEW_FILES})
OFFENSIVE_DIR = Path("tweeteval") / "offensive"


class DataError(ValueError):
    """The data directory or a labels file is missing or not in the expected shape."""


class Split(StrEnum):
    TRAIN = "train"
    TEST = "test"
    UNSEEN_DOMAIN = "unseen_domain"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    dissatisfied: bool
    dataset: str
    split: Split
    domain: str = ""
    lang: str = "en"


def split_of(key: str, percent_test: int = TEST_PERCENT) -> Split:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    return Split.TEST if bucket < percent_test else Split.TRAIN


def load_complaints(data_dir: Path) -> list[Example]:
    """Complaint-labelled tweets; the label is 'complaint', which is what we call dissatisfied."""
    path = data_dir / COMPLAINTS_FILE
    if not path.is_file():
        raise DataError(
            f"{path} is missing: --data must be a directory laid out like ../shared/data "
            "(complaints/complaints-data.csv from Preotiuc-Pietro et al., ACL 2019)"
        )
    examples: list[Example] = []
    with path.open(encoding="utf-8", newline="") as file:
        for line_no, row in enumerate(csv.reader(file), start=1):
            if len(row) != 4 or row[2] not in ("0", "1"):
                raise DataError(
                    f"{path}:{line_no}: expected 4 fields 'tweet_id,text,label,domain' with "
                    f"label 0 or 1, got {row[:4]!r}"
                )
            tweet_id, text, label, domain = row
            split = Split.UNSEEN_DOMAIN if domain in UNSEEN_DOMAINS else split_of(tweet_id)
            examples.append(Example(text, label == "1", "complaints", split, domain))
    if not examples:
        raise DataError(f"{path} has no rows")
    return examples


def load_tweeteval_sentiment(data_dir: Path) -> list[Example]:
    """TweetEval sentiment as negative vs rest (neutral and positive)."""
    folder = data_dir / TWEETEVAL_DIR
    examples: list[Example] = []
    for part in ("val", "test"):
        text_path = folder / f"{part}_text.txt"
        label_path = folder / f"{part}_labels.txt"
        if not text_path.is_file() or not label_path.is_file():
            raise DataError(
                f"{text_path} or {label_path} is missing: --data must be laid out like "
                "../shared/data (tweeteval/sentiment/ from Barbieri et al. 2020)"
            )
        texts = text_path.read_text(encoding="utf-8").split("\n")
        labels = label_path.read_text(encoding="utf-8").split("\n")
        texts, labels = _without_trailing_blank(texts), _without_trailing_blank(labels)
        if len(texts) != len(labels):
            raise DataError(
                f"{text_path} has {len(texts)} lines but {label_path} has {len(labels)}"
            )
        for line_no, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
            if label.strip() not in ("0", "1", "2"):
                raise DataError(f"{label_path}:{line_no}: expected 0, 1 or 2, got {label!r}")
            clean = text.strip()
            examples.append(
                Example(clean, label.strip() == "0", "tweeteval", split_of(clean), "sentiment")
            )
    return examples


def load_tweeteval_emotion(data_dir: Path, exclude: set[str]) -> list[Example]:
    """TweetEval emotion (anger and sadness count as dissatisfied, joy and optimism not), all
    of it for training: it adds negative-mood tweets the sentiment split lacks. Texts in
    `exclude` (the sentiment texts, whose test split must stay unseen) are left out. Returns
    nothing when the folder is absent, since it only helps."""
    return _tweeteval_task(data_dir / EMOTION_DIR, "emotion", {"0", "3"}, {"1", "2"}, exclude)


def load_tweeteval_offensive(data_dir: Path, exclude: set[str]) -> list[Example]:
    """TweetEval offensive language (1 = offensive), all of it, for the hostility model that
    helps tell angry posts from neutral ones; same exclusions as emotion."""
    return _tweeteval_task(data_dir / OFFENSIVE_DIR, "offensive", {"1"}, {"0"}, exclude)


def _tweeteval_task(
    folder: Path, name: str, positive: set[str], negative: set[str], exclude: set[str]
) -> list[Example]:
    examples: list[Example] = []
    for part in ("train", "val", "test"):
        text_path = folder / f"{part}_text.txt"
        label_path = folder / f"{part}_labels.txt"
        if not text_path.is_file() or not label_path.is_file():
            continue
        texts = _without_trailing_blank(text_path.read_text(encoding="utf-8").split("\n"))
        labels = _without_trailing_blank(label_path.read_text(encoding="utf-8").split("\n"))
        if len(texts) != len(labels):
            raise DataError(
                f"{text_path} has {len(texts)} lines but {label_path} has {len(labels)}"
            )
        for text, label in zip(texts, labels, strict=True):
            clean, value = text.strip(), label.strip()
            if clean and clean not in exclude and value in positive | negative:
                examples.append(Example(clean, value in positive, name, Split.TRAIN, name))
    return examples


def load_multilingual(data_dir: Path) -> list[Example]:
    """Tweets in seven languages and Chinese reviews, negative vs rest (neutral counts as not
    dissatisfied, as for TweetEval).

    UMSAB's own validation split is the held-out test here (its official test split is kept
    for evaluation elsewhere and is not in the shared data); the Chinese sets, which come
    without a split, are split by the salted hash of the text like TweetEval. Returns nothing
    when the folder is absent, so English-only training still works.
    """
    folder = data_dir / MULTILINGUAL_DIR
    if not folder.is_dir():
        return []
    examples: list[Example] = []
    for split, name in UMSAB_FILES.items():
        for record in _jsonl(folder / name):
            if record["lang"] != "en":
                examples.append(_labelled(record, "umsab", Split(split)))
    for dataset, name in CHINESE_REVIEW_FILES.items():
        for record in _jsonl(folder / name):
            examples.append(_labelled(record, dataset, split_of(str(record["text"]).strip())))
    return examples


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    if not path.is_file():
        raise DataError(f"{path} is missing: the multilingual folder is incomplete")
    with path.open(encoding="utf-8") as file:
        for line_no, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise DataError(f'{path}:{line_no}: expected {{"text": ..., "lang": ...}}')
            yield record


def _labelled(record: dict[str, object], dataset: str, split: Split) -> Example:
    text = str(record["text"]).strip()
    return Example(
        text,
        record.get("dissatisfied") is True,
        dataset,
        split,
        str(record.get("source", "")),
        lang=str(record["lang"]),
    )


def load_feedback_labels(path: Path) -> list[Example]:
    """Labels people gave in the review queue: JSON lines of {"text": ..., "dissatisfied": ...}.

    They are all used for training (they are the closest thing to the brand's own traffic).
    """
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist")
    examples: list[Example] = []
    with path.open(encoding="utf-8") as file:
        for line_no, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
            if (
                not isinstance(record, dict)
                or not isinstance(record.get("text"), str)
                or not isinstance(record.get("dissatisfied"), bool)
            ):
                raise DataError(
                    f'{path}:{line_no}: expected {{"text": "...", "dissatisfied": true|false}}'
                )
            examples.append(
                Example(record["text"], record["dissatisfied"], "feedback", Split.TRAIN)
            )
    return examples


def _without_trailing_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def only(examples: Iterable[Example], split: Split, dataset: str | None = None) -> list[Example]:
    return [e for e in examples if e.split is split and (dataset is None or e.dataset == dataset)]


def batches(items: list[Example], size: int) -> Iterator[list[Example]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
