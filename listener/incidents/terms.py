"""Distinctive terms: the words that make one story different from a brand's usual chatter.

Each brand keeps a decayed document frequency of the words in its recent mentions; a word's
weight is its inverse document frequency there. "phone numbers leaked" is distinctive for a
mobile operator on a normal day; "signal" and "contract" are not. Two mentions share a story
when the weight of the words they share is high enough.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
# Links, handles and retweet marks: they say where a post came from, not what it says.
_NOISE = re.compile(
    r"(?:https?://|www\.|pic\.twitter\.com/|t\.co/)\S*|@\w+|^\s*rt\b:?|\bvia\s+@?\w+\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_STOPWORD_TEXT = """
    about above after again against all also and any are aren't because been before being below
    between both but can can't cannot could couldn't did didn't does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having her here hers
    herself him himself his how i'm i've into isn't it's its itself just let's like more most
    mustn't myself nor not now off once only other ought our ours ourselves out over own same
    she she's should shouldn't some such than that that's the their theirs them themselves then
    there there's these they they're this those through too under until very was wasn't we're
    were weren't what what's when where which while who whom why will with won't would wouldn't
    you you're your yours yourself yourselves yet get got gets via http https www com amp rt
    today really still even one two new know think going want need make made says said
    twitter pic status statuses tweet tweets retweet instagram youtube tiktok facebook
    watch html php bit tinyurl ift utm_source utm_medium utm_campaign
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_TERMS = 4000


def _words(text: str) -> list[str]:
    """The words of a text in order, lower-cased, without links, handles and retweet marks."""
    lower = text.lower()
    # The noise pattern costs more than the words one: most posts have none of it.
    if (
        "/" in lower
        or "@" in lower
        or "www." in lower
        or "via " in lower
        or lower.lstrip().startswith("rt")
        or "\nrt" in lower
    ):
        lower = _NOISE.sub(" ", lower)
    return _WORD.findall(lower)


def _token_set(words: list[str], ignore: frozenset[str]) -> frozenset[str]:
    found = {w.strip("'-") for w in words}
    # The set's iteration order changes with PYTHONHASHSEED: whoever ranks or sums these words
    # must not depend on it (see `model.ranked`, `TermStats._rebase`). Built in sorted order,
    # as a saved state rebuilds it from its sorted list, so within one process the set kept in
    # memory and the one read back iterate alike and count words into the state in one order.
    excluded = _excluded(ignore)
    return frozenset(sorted(w for w in found if len(w) >= 3 and w not in excluded))


def tokens(text: str, ignore: frozenset[str] = frozenset()) -> frozenset[str]:
    """Lower-case words of three letters or more, without stopwords and the brand's own name."""
    return _token_set(_words(text), ignore)


def read(text: str, ignore: frozenset[str], author: str | None) -> tuple[frozenset[str], int]:
    """`tokens` and `fingerprint` of a text, reading it once (no fingerprint, 0, when
    `author` is None)."""
    words = _words(text)
    return _token_set(words, ignore), 0 if author is None else _fingerprint_of(words, author)


@lru_cache(maxsize=256)
def _excluded(ignore: frozenset[str]) -> frozenset[str]:
    return STOPWORDS | ignore


def fingerprint(text: str, author: str = "") -> int:
    """A stable hash of the words of a post without links, handles and retweet marks.

    The same text posted through several apps (each adding its own link or "via @app") and
    retweets ("RT @someone: ...") of one post all have one fingerprint, so they count once
    towards a spike. Posts of under four words are only the same when the author is too.
    crc32, not `hash`: it must not change between runs (PYTHONHASHSEED).
    """
    return _fingerprint_of(_words(text), author)


def _fingerprint_of(words: list[str], author: str) -> int:
    if not words:
        return 0  # nothing to compare: never a duplicate
    if len(words) < 4:
        # "down again?" from two people is two people; from one, through two apps, is one.
        words = [*words, "\x00" + author]
    return zlib.crc32(" ".join(words).encode("utf-8")) or 1


def brand_words(terms: Iterable[str]) -> frozenset[str]:
    """Words of a brand's search terms: present in every mention, so never distinctive."""
    out: set[str] = set()
    for term in terms:
        out.update(w.strip("'-") for w in re.findall(r"\w+", term.lower()))
    return frozenset(out)


@dataclass
class TermStats:
    """Decayed document frequency of words over one brand's recent mentions.

    Counts are stored inflated by decay**-ticks so that observing a mention touches only its
    own words; they are rebased (multiplied down) every `_REBASE` mentions.
    """

    docs: float = 0.0
    df: dict[str, float] = field(default_factory=dict)
    ticks: int = 0
    decay: float = 0.999
    # idf of the words asked since the counts last changed (most mentions of a busy story
    # join an incident without being counted, and ask about the same words).
    _idf: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def observe(self, words: Iterable[str]) -> None:
        self._idf.clear()
        self.docs = self.docs * self.decay + 1.0
        self.ticks += 1
        inflated = self.decay**-self.ticks
        df = self.df
        for word in words:
            df[word] = df.get(word, 0.0) + inflated
        if self.ticks >= _REBASE or len(df) > 2 * MAX_TERMS:
            self._rebase()

    def idf(self, word: str) -> float:
        """log((N + 1) / (df + 1)): near zero for a word in every mention, high for a rare one."""
        known = self._idf.get(word)
        if known is not None:
            return known
        frequency = self.df.get(word, 0.0) * self.decay**self.ticks
        value = self._idf[word] = math.log((self.docs + 1.0) / (frequency + 1.0))
        return value

    def _rebase(self) -> None:
        self._idf.clear()
        scale = self.decay**self.ticks
        # Equal counts in word order: words arrive in set order, which changes with the hash seed.
        top = sorted(self.df.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS]
        self.df = {w: c * scale for w, c in top if c * scale > 0.01}
        self.ticks = 0

    def as_json(self) -> dict[str, Any]:
        """Rebased and rounded; this object is left as `from_json` of the result would be."""
        self._rebase()
        self.docs = round(self.docs, 4)
        self.df = {w: round(c, 4) for w, c in self.df.items()}
        self._idf.clear()
        return {"docs": self.docs, "df": dict(self.df)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TermStats:
        stats = cls()
        if data:
            stats.docs = float(data.get("docs", 0.0))
            stats.df = {str(w): float(c) for w, c in dict(data.get("df", {})).items()}
        return stats


_REBASE = 2000
