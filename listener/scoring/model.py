"""The learned dissatisfaction model: hashed n-gram logistic regressions stacked with the lexicon.

Four linear models read the same hashed word 1-2-gram and char 2-5-gram features (TF-IDF,
sublinear, L2-normalised): one trained on complaint-labelled tweets to brands, one on negative
sentiment, one on both, one on offensive language. A final logistic regression (the "stacker")
weighs their log-odds together with VADER and the cue lexicons; its weight on each input times
the input's distance from a typical value is that input's signal, so the signals add up to the
score's log-odds minus a constant.

Texts in other languages (zh, es, fr, de, pt, it, ar, hi) are scored by a fifth model on the
same features, trained on tweets and reviews in those languages, and a smaller stacker of its
own with an offset per language (`MultilingualStack`); a mention goes one way or the other by
its language (the source's, else detected), so English scores are what the English stack says.

Weights are plain arrays (`weights.npz`) plus `weights.json` (version, hyperparameters, stacker
coefficients): no pickle, so they load with any scikit-learn and cannot run code. They are
loaded once per path and cached.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from itertools import count, pairwise, repeat
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from listener.domain import Mention, Score, Signal
from listener.errors import SettingsError
from listener.scoring.language import HAN_RANGE, LANGUAGE_NAMES, language_of
from listener.scoring.lexicon import evidence_weights
from listener.scoring.reading import Reading, SentimentAnalyzer, read, vader
from listener.scoring.verdict import build_score, fallback_score, sigmoid

SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights"
WEIGHTS_JSON = "weights.json"
WEIGHTS_NPZ = "weights.npz"
FORMAT = 1

# Base models, in the column order of the coefficient matrix, and how their signals are named.
BASE_MODELS = ("complaint", "negativity", "joint", "offensive")
BASE_MODEL_LABELS = {
    "complaint": "complaint model",
    "negativity": "negative-sentiment model",
    "joint": "dissatisfaction model",
    "offensive": "hostile-language model",
}
# Stacker inputs besides the base models' log-odds (see `lexicon_features`).
LEXICON_FEATURES = (
    "negative_sentiment",
    "positive_sentiment",
    "vader_negative_share",
    "vader_positive_share",
    "complaint_cues",
    "praise_cues",
    "question",
    "news",
)
STACKER_FEATURES = BASE_MODELS + LEXICON_FEATURES
# The multilingual stacker's inputs: the multilingual model (a fifth column of the coefficient
# matrix, trained on tweets and reviews in MULTILINGUAL languages), the English joint model
# (useful on English words in code-mixed text) and the cue lexicons; plus an offset per language.
MULTILINGUAL_FEATURES = ("multilingual", "joint", "complaint_cues", "praise_cues", "question")
CENTRED_FEATURES = BASE_MODELS + LEXICON_FEATURES[:4]
# Inputs whose evidence against dissatisfaction comes from the praise words themselves, and so
# is discounted when the lexicon finds sarcasm ("great, another delay, thanks").
_FOOLED_BY_SARCASM = frozenset(BASE_MODEL_LABELS.values())
# The smallest contribution worth a line, and the larger one the "neutral sentiment" line
# needs: that only says a text has no sentiment words.
_SHOWN_FROM = 0.005
_NEUTRAL_SHOWN_FROM = 0.05

_MENTION = re.compile(r"@\w+")
# Words, and "!" and "?"; Chinese has no spaces, so each Han character is a word of its own
# (the word n-grams are then its character unigrams and bigrams; char_wb adds 2-5-grams).
_TOKEN_PATTERN = rf"(?u)[{HAN_RANGE}]|[^\W{HAN_RANGE}]+(?:'+[^\W{HAN_RANGE}]+)*|[!?]"


def preprocess(text: str) -> str:
    """Lower-case with every @handle the same, so no brand name is learned as a complaint cue."""
    return _MENTION.sub("@user", text.lower())


def _as_is(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class VectorizerConfig:
    n_features: int = 2**18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)


class TextVectorizer:
    """Hashed word and char n-grams with sublinear TF, IDF and L2 norm.

    The counts are exactly those of two scikit-learn `HashingVectorizer`s (word 1-2-grams and
    char_wb 2-5-grams, side by side), but computed per distinct unit rather than per text: a
    batch's word n-grams and its words are each hashed once (a char_wb n-gram never crosses a
    word, so a text's char counts are the sum of its words'), and a sparse product adds them up
    per text. Mentions repeat words far more than texts, so this hashes a fraction of the
    n-grams the per-text path would. Its only state besides IDF is a bounded memo of words'
    hashed columns, which changes how fast it is, never what it returns.
    """

    def __init__(self, config: VectorizerConfig, idf: npt.NDArray[np.floating[Any]]) -> None:
        self.config = config
        self.idf = np.asarray(idf, dtype=np.float64)
        if self.idf.shape != (2 * config.n_features,):
            raise ValueError(f"idf has shape {self.idf.shape}, expected ({2 * config.n_features},)")
        common = {
            "n_features": config.n_features,
            "alternate_sign": False,
            "norm": None,
            # Texts are preprocessed once in `counts`, not once per analyzer.
            "preprocessor": _as_is,
            "dtype": np.float64,
        }
        self._tokens = re.compile(_TOKEN_PATTERN).findall
        self._char_grams: Callable[[str], list[str]] = HashingVectorizer(
            analyzer="char_wb", ngram_range=config.char_ngrams, **common
        ).build_analyzer()
        # Words' char n-gram columns, packed int32 (see `_char_columns`).
        self._word_columns: dict[str, bytes] = {}
        # The slices char_wb takes of a space-padded word, by the padded word's length: taken
        # with `map` they are the same n-grams, in the same order, made in C. Longer words
        # (rare) go through the analyzer itself.
        self._char_slices = [
            char_wb_slices(length, *config.char_ngrams) for length in range(_SLICED_UP_TO + 1)
        ]
        # The hasher a HashingVectorizer with these settings uses, but fed (n-gram, 1) pairs
        # made in C (`zip` with `repeat`) rather than by its per-n-gram generator.
        self._hasher = FeatureHasher(
            n_features=config.n_features,
            input_type="pair",
            alternate_sign=False,
            dtype=np.float64,
        )
        # The same hashing one feature at a time, for a few texts (`weighed_rows`) or words;
        # common n-grams are remembered.
        self._column: Callable[[str], int] = lru_cache(maxsize=_COLUMNS_REMEMBERED)(
            partial(hashed_column, n_features=config.n_features)
        )

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Raw hashed counts, words then chars (training fits IDF on these)."""
        n_features = self.config.n_features
        # Each distinct unit (a word n-gram, or a word for its char n-grams) gets the next id
        # from one counter the first time it is seen; lookups are C calls, not Python code.
        next_id = count().__next__
        gram_ids: defaultdict[str, int] = defaultdict(next_id)
        word_ids: defaultdict[str, int] = defaultdict(next_id)
        gram_id, word_id = gram_ids.__getitem__, word_ids.__getitem__
        tokens_of, (low, high) = self._tokens, self.config.word_ngrams
        ids: list[int] = []
        indptr = [0]
        for text in texts:
            prepared = preprocess(text)
            ids += map(gram_id, word_ngrams(tokens_of(prepared), low, high))
            ids += map(word_id, prepared.split())
            indptr.append(len(ids))
        shape = (len(texts), 2 * n_features)
        if not ids:
            return sparse.csr_matrix(shape, dtype=np.float64)
        grams, words = list(gram_ids), list(word_ids)
        gram_columns, gram_counts, gram_indptr = self._hash_grams(grams)
        word_columns, word_indptr = self._char_columns(words)
        # Units in row order: the n-grams, then the words, whose char columns follow the word
        # columns as in the hstack of two vectorizers.
        unit_columns = np.concatenate([gram_columns, word_columns + np.int32(n_features)])
        unit_counts = np.concatenate([gram_counts, np.ones(len(word_columns))])
        unit_indptr = np.concatenate([gram_indptr, gram_indptr[-1] + word_indptr[1:]])
        row_of_id = np.empty(len(grams) + len(words), dtype=np.int32)
        row_of_id[np.fromiter(gram_ids.values(), np.intp, len(grams))] = np.arange(len(grams))
        row_of_id[np.fromiter(word_ids.values(), np.intp, len(words))] = np.arange(
            len(grams), len(grams) + len(words)
        )
        # A text's counts are the sum of its units' rows: a sparse product. Its workspace is as
        # wide as the product, so the product runs over just the columns this batch has and
        # maps them back afterwards (else a feed poll's five texts pay for 2**19 columns).
        columns, compact = np.unique(unit_columns, return_inverse=True)
        by_unit = sparse.csr_matrix(
            (unit_counts, compact.astype(np.int32), unit_indptr),
            shape=(len(row_of_id), len(columns)),
        )
        occurrences = sparse.csr_matrix(
            (np.ones(len(ids)), row_of_id[ids], np.asarray(indptr, np.int32)),
            shape=(len(texts), len(row_of_id)),
        )
        product = occurrences @ by_unit
        product.sort_indices()  # in compact columns, so in the original columns too
        return sparse.csr_matrix(
            (product.data, columns[product.indices], product.indptr), shape=shape
        )

    def _hash_grams(
        self, grams: list[str]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Each word n-gram's column, as CSR arrays with one row per n-gram."""
        if not grams:
            return np.zeros(0, np.int32), np.zeros(0), np.zeros(1, np.int64)
        # Rows are made as the hasher consumes them: tens of thousands alive at once would set
        # off the cyclic garbage collector, which then walks the whole heap again and again.
        hashed = self._hasher.transform(((gram, 1),) for gram in grams)
        return hashed.indices, hashed.data, hashed.indptr.astype(np.int64)

    def _char_columns(
        self, words: list[str]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Each word's char n-gram columns (one per n-gram, so a repeated one twice), as CSR
        indices and indptr with one row per word."""
        found = self._word_blobs(words)
        columns = np.frombuffer(b"".join(found), dtype=np.int32)
        indptr = np.zeros(len(found) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, found), np.int64, len(found)) // 4, out=indptr[1:])
        return columns, indptr

    def _word_blobs(self, words: list[str]) -> list[bytes]:
        """Each word's char n-gram columns, sorted, packed as int32 bytes.

        Words are hashed once and remembered (`_WORDS_REMEMBERED` of them, then forgotten all
        at once): a feed repeats most of its words from one poll to the next, though hardly
        ever a whole text. What is remembered depends only on the word, so scores do not
        depend on what was scored before.
        """
        memo = self._word_columns
        if len(memo) >= _WORDS_REMEMBERED:
            memo.clear()
        # Looked up once, so another thread clearing the memo meanwhile changes nothing here.
        blobs = list(map(memo.get, words))
        new = [i for i, blob in enumerate(blobs) if blob is None]
        if len(new) > _HASHED_ONE_BY_ONE:
            hashed = self._hasher.transform(
                zip(self._char_ngrams(words[i]), repeat(1)) for i in new
            )
            # Every word has n-grams, so no row is empty and reduceat is safe.
            per_word = np.add.reduceat(hashed.data, hashed.indptr[:-1]).astype(np.intp)
            packed = np.repeat(hashed.indices, hashed.data.astype(np.intp)).tobytes()
            ends = np.cumsum(per_word * 4).tolist()
            for i, start, end in zip(new, [0, *ends], ends, strict=False):
                blobs[i] = memo[words[i]] = packed[start:end]
        else:
            # A few new words (a feed poll's): the hasher's own set-up would cost more than
            # hashing their n-grams here. Sorted, as the hasher's rows are: the same bytes.
            column = self._column
            for i in new:
                ngram_columns = sorted(map(column, self._char_ngrams(words[i])))
                blobs[i] = memo[words[i]] = np.array(ngram_columns, dtype=np.int32).tobytes()
        return cast(list[bytes], blobs)  # every None was just filled in

    def _char_ngrams(self, word: str) -> Iterable[str]:
        """char_wb's n-grams of one word (no whitespace in it)."""
        padded = f" {word} "
        if len(padded) > _SLICED_UP_TO:
            return self._char_grams(word)
        return map(padded.__getitem__, self._char_slices[len(padded)])

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return weigh(self.counts(texts), self.idf)

    def weighed_rows(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """`transform` of a few texts as CSR arrays (data, indices, indptr), made text by text
        without SciPy: building and checking sparse matrices costs a fixed time a batch whatever
        its size, more than the rest of a feed poll's scoring."""
        n_features = self.config.n_features
        tokens_of, (low, high) = self._tokens, self.config.word_ngrams
        width = 2 * n_features
        column = self._column
        # Every (text, column) occurrence as one number, text-major: sorted and counted at
        # once, they are the batch's CSR entries in order.
        keys: list[npt.NDArray[np.int64]] = []
        for row, text in enumerate(texts):
            prepared = preprocess(text)
            grams = word_ngrams(tokens_of(prepared), low, high)
            gram_columns = np.fromiter(map(column, grams), np.int64, len(grams))
            char_columns = np.frombuffer(b"".join(self._word_blobs(prepared.split())), np.int32)
            gram_columns += row * width
            keys += (gram_columns, char_columns + np.int64(row * width + n_features))
        found, times = np.unique(
            np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True
        )
        rows, columns = np.divmod(found, width)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        columns = columns.astype(np.int32)
        data = weigh_values(times.astype(np.float64), columns, indptr, self.idf)
        return data, columns, indptr


# How many words' char columns a vectorizer remembers (about 250 bytes each).
_WORDS_REMEMBERED = 2**16
# How many n-grams' hashed columns `_column` remembers (about 100 bytes each).
_COLUMNS_REMEMBERED = 2**16
# Up to this many new words at once are hashed here rather than by `FeatureHasher`.
_HASHED_ONE_BY_ONE = 32
# Up to this many texts a batch is turned into features by `weighed_rows`, not SciPy.
SMALL_BATCH = 16
# Padded words up to this length have their char n-gram slices computed once.
_SLICED_UP_TO = 48


def hashed_column(feature: str, n_features: int) -> int:
    """The column `FeatureHasher` gives a feature (see its `_hashing_fast.transform`)."""
    hashed = int(murmurhash3_32(feature, seed=0))
    if hashed == -(2**31):  # abs() of it would overflow in its int32
        return (2**31 - 1 - (n_features - 1)) % n_features
    return abs(hashed) % n_features


def char_wb_slices(length: int, low: int, high: int) -> tuple[slice, ...]:
    """The slices scikit-learn's char_wb analyzer takes of a padded word of `length`, in its
    order: its own loop, run on positions instead of characters."""
    slices = []
    for n in range(low, high + 1):
        offset = 0
        slices.append(slice(offset, offset + n))
        while offset + n < length:
            offset += 1
            slices.append(slice(offset, offset + n))
        if offset == 0:  # a word shorter than n is counted once
            break
    return tuple(slices)


def word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    """scikit-learn's word n-grams of `tokens`: every run of `low` to `high` tokens, joined by
    a space (made by `zip` and `map` in C rather than by its loop)."""
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), high + 1):
        grams += map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False))
    return grams


def weigh(counts: sparse.csr_matrix, idf: npt.NDArray[np.floating[Any]]) -> sparse.csr_matrix:
    """Sublinear TF times IDF, L2-normalised rows."""
    data = weigh_values(counts.data, counts.indices, counts.indptr, idf)
    return sparse.csr_matrix(
        (data, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape
    )


def weigh_values(
    counts: npt.NDArray[np.float64],
    indices: npt.NDArray[np.integer[Any]],
    indptr: npt.NDArray[np.integer[Any]],
    idf: npt.NDArray[np.floating[Any]],
) -> npt.NDArray[np.float64]:
    """`weigh` on the CSR arrays (SciPy's and scikit-learn's per-call checks cost more than
    the arithmetic on a feed poll's few texts)."""
    data = np.log(counts)
    data += 1.0
    data *= idf[indices]
    norms = np.sqrt(row_sums(data * data, indptr))
    norms[norms == 0.0] = 1.0
    data /= np.repeat(norms, np.diff(indptr))
    return data


def rows_times(
    data: npt.NDArray[np.float64],
    indices: npt.NDArray[np.integer[Any]],
    indptr: npt.NDArray[np.integer[Any]],
    dense: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """CSR rows times a dense matrix, adding each row's products one by one in index order,
    as SciPy's `csr_matvecs` does, so the result is the same to the last bit."""
    result = np.zeros((len(indptr) - 1, dense.shape[1]))
    products = data[:, None] * dense[indices]
    bounds = indptr.tolist()
    for row, (start, end) in enumerate(pairwise(bounds)):
        if end > start:
            result[row] = np.cumsum(products[start:end], axis=0)[-1]
    return result


def row_sums(
    values: npt.NDArray[np.float64], indptr: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.float64]:
    """Per-row sums of a CSR matrix's `values` (its data, or one column per output), with 0
    for an empty row (which `np.add.reduceat` alone gets wrong)."""
    sums = np.zeros((len(indptr) - 1, *values.shape[1:]), dtype=np.float64)
    filled = indptr[1:] > indptr[:-1]
    if filled.any():
        sums[filled] = np.add.reduceat(values, indptr[:-1][filled], axis=0)
    return sums


def lexicon_features(reading: Reading, evidence: Sequence[Signal]) -> list[float]:
    """The stacker's view of VADER and the cues, in `LEXICON_FEATURES` order."""
    return _lexicon_values(reading, [(s.name, s.weight) for s in evidence])


def _lexicon_values(reading: Reading, evidence: Sequence[tuple[str, float]]) -> list[float]:
    negative = positive = cues = praise = question = news = 0.0
    for name, weight in evidence:
        if name.startswith("negative sentiment"):
            negative += weight
        elif name.startswith("positive sentiment"):
            positive += weight
        elif name == "a question":
            question = 1.0
        elif name == "reads like a news report":
            news = 1.0
        elif weight > 0:
            cues += weight
        else:
            praise += weight
    return [
        negative,
        positive,
        reading.negative_share,
        reading.positive_share,
        cues,
        praise,
        question,
        news,
    ]


@dataclass(frozen=True)
class MultilingualStack:
    """How texts in languages other than English are scored: the multilingual base model's
    column of `ModelWeights.coef` and a small stacker with a log-odds offset per language."""

    languages: tuple[str, ...]
    coef: npt.NDArray[np.float64]  # (len(MULTILINGUAL_FEATURES),)
    offsets: dict[str, float]  # per language: the stacker's intercept plus its language term
    centres: dict[str, float]  # typical values of "multilingual" and "joint"

    def to_json(self) -> dict[str, Any]:
        return {
            "languages": list(self.languages),
            "features": list(MULTILINGUAL_FEATURES),
            "coef": [round(float(c), 6) for c in self.coef],
            "offsets": {k: round(float(v), 6) for k, v in self.offsets.items()},
            "centres": {k: round(float(v), 6) for k, v in self.centres.items()},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> MultilingualStack:
        if tuple(document["features"]) != MULTILINGUAL_FEATURES:
            raise ValueError(f"multilingual features {document['features']!r} are not known")
        languages = tuple(str(code) for code in document["languages"])
        offsets = {str(k): float(v) for k, v in document["offsets"].items()}
        if set(offsets) != set(languages):
            raise ValueError("multilingual offsets do not match its languages")
        return cls(
            languages=languages,
            coef=np.asarray(document["coef"], dtype=np.float64),
            offsets=offsets,
            centres={str(k): float(v) for k, v in document["centres"].items()},
        )


@dataclass(frozen=True)
class ModelWeights:
    """Everything the learned scorer needs, as loaded from a weights directory."""

    version: str
    vectorizer: TextVectorizer
    # (features, len(BASE_MODELS) + 1 if multilingual), stored as float16 but held as float64:
    # the features are float64, and a float32 `coef` would be converted (16 MB) on every
    # `matrix @ coef`.
    coef: npt.NDArray[np.float64]
    intercept: npt.NDArray[np.float64]  # (len(BASE_MODELS),)
    stacker_coef: npt.NDArray[np.float64]  # (len(STACKER_FEATURES),)
    stacker_intercept: float
    # Typical values of the always-present stacker inputs (base models, sentiment): signals
    # report each input's difference from typical, so a plain text shows small signals.
    centres: dict[str, float]
    meta: dict[str, Any]

    # The stack for texts in other languages; None in weights trained before it existed, which
    # then score every language with the English stack.
    multilingual: MultilingualStack | None = None

    @property
    def centred_intercept(self) -> float:
        coef = dict(zip(STACKER_FEATURES, self.stacker_coef, strict=True))
        shift = sum(float(coef[k]) * v for k, v in self.centres.items())
        return float(self.stacker_intercept) + shift


def save_weights(directory: Path, weights: ModelWeights) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        directory / WEIGHTS_NPZ,
        idf=weights.vectorizer.idf.astype(np.float16),
        coef=weights.coef.astype(np.float16),
        intercept=weights.intercept.astype(np.float64),
    )
    config = weights.vectorizer.config
    document = {
        "format": FORMAT,
        "version": weights.version,
        "vectorizer": {
            "n_features": config.n_features,
            "word_ngrams": list(config.word_ngrams),
            "char_ngrams": list(config.char_ngrams),
        },
        "base_models": list(BASE_MODELS),
        "stacker": {
            "features": list(STACKER_FEATURES),
            "coef": [round(float(c), 6) for c in weights.stacker_coef],
            "intercept": round(float(weights.stacker_intercept), 6),
            "centres": {k: round(float(v), 6) for k, v in weights.centres.items()},
        },
        **weights.meta,
    }
    if weights.multilingual is not None:
        document["multilingual"] = weights.multilingual.to_json()
    (directory / WEIGHTS_JSON).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


@cache
def load_weights(directory: Path) -> ModelWeights:
    """Read a weights directory once; a missing or malformed one is a `SettingsError`."""
    json_path, npz_path = directory / WEIGHTS_JSON, directory / WEIGHTS_NPZ
    if not json_path.is_file() or not npz_path.is_file():
        raise SettingsError(
            f"scoring.model: {str(directory)!r} has no {WEIGHTS_JSON} and {WEIGHTS_NPZ}; use "
            "'default', 'lexicon', or a directory written by 'python -m listener.scoring.train'"
        )
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        with np.load(npz_path) as arrays:
            idf, coef, intercept = arrays["idf"], arrays["coef"], arrays["intercept"]
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {FORMAT}")
        if tuple(document["base_models"]) != BASE_MODELS:
            raise ValueError(f"base models {document['base_models']!r}, expected {BASE_MODELS}")
        stacker = document["stacker"]
        if tuple(stacker["features"]) != STACKER_FEATURES:
            raise ValueError(f"stacker features {stacker['features']!r} are not the known ones")
        if not set(stacker["centres"]) <= set(CENTRED_FEATURES):
            raise ValueError(f"stacker centres {sorted(stacker['centres'])!r} are not known")
        spec = document["vectorizer"]
        config = VectorizerConfig(
            n_features=int(spec["n_features"]),
            word_ngrams=(int(spec["word_ngrams"][0]), int(spec["word_ngrams"][1])),
            char_ngrams=(int(spec["char_ngrams"][0]), int(spec["char_ngrams"][1])),
        )
        vectorizer = TextVectorizer(config, idf)
        multilingual = (
            MultilingualStack.from_json(document["multilingual"])
            if "multilingual" in document
            else None
        )
        columns = len(BASE_MODELS) + (multilingual is not None)
        if coef.shape != (2 * config.n_features, columns) or intercept.shape != (columns,):
            raise ValueError(f"coef has shape {coef.shape}, intercept {intercept.shape}")
        meta = {
            k: v
            for k, v in document.items()
            if k
            not in {"format", "version", "vectorizer", "base_models", "stacker", "multilingual"}
        }
        return ModelWeights(
            version=str(document["version"]),
            vectorizer=vectorizer,
            coef=np.asarray(coef, dtype=np.float64),
            intercept=np.asarray(intercept, dtype=np.float64),
            stacker_coef=np.asarray(stacker["coef"], dtype=np.float64),
            stacker_intercept=float(stacker["intercept"]),
            centres={str(k): float(v) for k, v in stacker["centres"].items()},
            meta=meta,
            multilingual=multilingual,
        )
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise SettingsError(
            f"scoring.model: the weights in {str(directory)!r} cannot be read ({exc}); "
            "retrain them with 'python -m listener.scoring.train'"
        ) from None


class ModelScorer:
    """Learned model stacked with the lexicon: the default scorer."""

    def __init__(
        self,
        weights: ModelWeights,
        dissatisfied_threshold: float = 0.5,
        analyzer: SentimentAnalyzer | None = None,
    ) -> None:
        self.weights = weights
        self.version = weights.version
        self.dissatisfied_threshold = dissatisfied_threshold
        self._analyzer = analyzer or vader()
        # Per-text work kept small: the stacker's weights as plain floats, looked up by name.
        self._coef = {
            k: float(v) for k, v in zip(STACKER_FEATURES, weights.stacker_coef, strict=True)
        }
        self._centres = {k: weights.centres.get(k, 0.0) for k in STACKER_FEATURES}
        self._intercept = weights.centred_intercept
        # Each base model's (label, coefficient, centre), and the sentiment features' (coefficient,
        # centre), in input order: read by position for every text, not looked up by name.
        self._base_terms = [
            (BASE_MODEL_LABELS[name], self._coef[name], self._centres[name]) for name in BASE_MODELS
        ]
        self._sentiment_terms = [(self._coef[n], self._centres[n]) for n in LEXICON_FEATURES[:4]]
        stack = weights.multilingual
        self._multilingual = stack
        self._other_languages = frozenset(stack.languages) if stack is not None else frozenset()

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]:
        if not mentions:
            return []
        try:
            readings = [read(m, self._analyzer) for m in mentions]
            base = self.base_logits([r.text for r in readings]).tolist()
        except Exception:
            # One poisoned text must not cost the batch: fall back to scoring one by one.
            return [self._score_alone(m) for m in mentions]
        return [
            self._finish(mention, reading, base[i])
            for i, (mention, reading) in enumerate(zip(mentions, readings, strict=True))
        ]

    def base_logits(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Each base model's log-odds for each text: shape (len(texts), len(BASE_MODELS))."""
        vectorizer, coef = self.weights.vectorizer, self.weights.coef
        if len(texts) <= SMALL_BATCH:
            logits = rows_times(*vectorizer.weighed_rows(texts), coef)
        else:
            logits = np.asarray(vectorizer.transform(texts) @ coef, dtype=np.float64)
        return logits + self.weights.intercept

    def _score_alone(self, mention: Mention) -> Score:
        try:
            reading = read(mention, self._analyzer)
            base = self.base_logits([reading.text])[0].tolist()
            return self._finish(mention, reading, base)
        except Exception as exc:  # the protocol forbids raising; say what happened instead
            return fallback_score(exc, self.version)

    def _finish(self, mention: Mention, reading: Reading, base: Sequence[float]) -> Score:
        try:
            evidence = evidence_weights(reading)
            lang = language_of(reading.text, mention.lang) if self._other_languages else "en"
            if lang in self._other_languages:
                intercept, contributions = self._other_language(lang, evidence, base)
            else:
                intercept = self._intercept
                contributions = self._contributions(reading, evidence, base[: len(BASE_MODELS)])
            z = intercept + sum(weight for _, weight in contributions)
            probability = sigmoid(z) if math.isfinite(z) else 0.5
            return build_score(
                mention,
                reading,
                probability,
                [
                    Signal(name, round(weight, 4))
                    for name, weight in contributions
                    if abs(weight) >= _NEUTRAL_SHOWN_FROM
                    or (abs(weight) >= _SHOWN_FROM and not name.startswith("neutral sentiment"))
                ],
                threshold=self.dissatisfied_threshold,
                version=self.version,
            )
        except Exception as exc:  # the protocol forbids raising; say what happened instead
            return fallback_score(exc, self.version)

    def _other_language(
        self, lang: str, evidence: Sequence[tuple[str, float]], base: Sequence[float]
    ) -> tuple[float, list[tuple[str, float]]]:
        """The multilingual stack's intercept for `lang` and its inputs' contributions."""
        stack = cast(MultilingualStack, self._multilingual)
        ml, joint, cue, praise, question = stack.coef.tolist()
        ml_centre, joint_centre = stack.centres["multilingual"], stack.centres["joint"]
        intercept = stack.offsets[lang] + ml * ml_centre + joint * joint_centre
        name = LANGUAGE_NAMES.get(lang, lang)
        contributions = [
            (f"{name} dissatisfaction model", ml * (float(base[len(BASE_MODELS)]) - ml_centre)),
            (BASE_MODEL_LABELS["joint"], joint * (float(base[2]) - joint_centre)),
        ]
        for signal, weight in evidence:
            if signal.endswith(" sentiment") or " sentiment " in signal:
                continue  # VADER reads English only
            if signal == "a question":
                contributions.append((signal, question))
            elif signal == "reads like a news report":
                contributions.append((signal, float(self._coef["news"])))
            elif weight > 0:
                contributions.append((signal, cue * weight))
            else:
                contributions.append((signal, praise * weight))
        return intercept, contributions

    def explain(
        self, reading: Reading, evidence: Sequence[Signal], base: Sequence[float]
    ) -> list[Signal]:
        """Each stacker input's contribution to the log-odds (relative to a typical text), named
        as people read it."""
        pairs = [(s.name, s.weight) for s in evidence]
        english = self._contributions(reading, pairs, base[: len(BASE_MODELS)])
        return [Signal(name, weight) for name, weight in english]

    def _contributions(
        self, reading: Reading, evidence: Sequence[tuple[str, float]], base: Sequence[float]
    ) -> list[tuple[str, float]]:
        """`explain` as (name, weight) pairs: the scorer makes a Signal only of those shown."""
        coef = self._coef
        contributions = [
            (label, weight * (float(logit) - centre))
            for (label, weight, centre), logit in zip(self._base_terms, base, strict=True)
        ]
        values = _lexicon_values(reading, evidence)
        sentiment = sum(
            [
                weight * (value - centre)
                for (weight, centre), value in zip(self._sentiment_terms, values[:4], strict=True)
            ]
        )
        compound = reading.compound
        mood = "negative" if compound < 0 else "positive" if compound > 0 else "neutral"
        contributions.append((f"{mood} sentiment {compound:+.2f}", sentiment))
        sarcastic = False
        for name, weight in evidence:
            if name.endswith(" sentiment") or " sentiment " in name:
                continue
            if name == "a question":
                contributions.append((name, float(coef["question"])))
            elif name == "reads like a news report":
                contributions.append((name, float(coef["news"])))
            elif weight > 0:
                sarcastic = sarcastic or name.startswith("sarcasm")
                contributions.append((name, float(coef["complaint_cues"] * weight)))
            else:
                contributions.append((name, float(coef["praise_cues"] * weight)))
        if sarcastic:
            contributions = [
                (name, 0.0)
                if weight < 0 and (name in _FOOLED_BY_SARCASM or "sentiment" in name)
                else (name, weight)
                for name, weight in contributions
            ]
        return contributions
