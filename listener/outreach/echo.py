"""No echoing: is a reply nearly the same as one the brand just sent to someone else?

A brand that answers a storm by posting the same sentence at person after person sounds like a
machine (and X refuses exact duplicates). At send time a reply is compared with the brand's
replies sent to other people within `outreach.echo_window`; one nearly the same waits for a
person to reword it.

The measure, after normalising both texts:

1. case-folded; links (`https://…`, `www.…`), @handles and each recipient's own name removed,
   so "Hi Dana, …" and "Hi Sam, …" with the same body compare as the same text;
2. split into words (letters and digits);
3. similarity = the Jaccard index of the two sets of word pairs (2-word shingles): shared pairs
   over all distinct pairs. Word pairs keep some word order, so a reply reworded in a few
   places drops well below the threshold while a copy with one word changed stays above it.
   Texts of fewer than two words compare their words. The same words in the same order
   always count as 1.0, an exact duplicate.

Pure: the store gathers the sends (`SentReply`), `decide_send` asks `find_echo`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["SentReply", "find_echo", "normalise", "similarity"]

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class SentReply:
    """A reply the brand sent (or is sending) recently, as the echo check compares it."""

    draft_id: int
    recipient: str  # who it went to (handle or address)
    recipient_name: str  # their display name, removed before comparing
    text: str
    sent_at: datetime


def normalise(text: str, names: Iterable[str] = ()) -> list[str]:
    """The words of `text` as the echo check compares them (see the module docstring)."""
    folded = _LINK.sub(" ", text.casefold())
    # Longest first: a short name inside a longer one ("Ann" in "Ann Lee") must not cut it.
    for name in sorted(
        {n.casefold().strip().removeprefix("@") for n in names if n and n.strip()},
        key=len,
        reverse=True,
    ):
        if name:
            folded = re.sub(rf"(?<!\w)@?{re.escape(name)}(?!\w)", " ", folded)
    folded = _HANDLE.sub(" ", folded)
    return _WORD.findall(folded)


def _shingles(words: Sequence[str]) -> set[tuple[str, ...]]:
    if len(words) < 2:
        return {(w,) for w in words}
    return {(a, b) for a, b in itertools.pairwise(words)}


def similarity(
    a: str, b: str, *, a_names: Iterable[str] = (), b_names: Iterable[str] = ()
) -> float:
    """How alike two replies are, 0.0 to 1.0; `*_names` are each one's recipient's names."""
    words_a, words_b = normalise(a, a_names), normalise(b, b_names)
    if words_a == words_b:
        return 1.0
    sa, sb = _shingles(words_a), _shingles(words_b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def find_echo(
    text: str,
    names: Iterable[str],
    sends: Sequence[SentReply],
    *,
    threshold: float,
) -> tuple[SentReply, float] | None:
    """The most recent of `sends` that `text` is nearly the same as (similarity at or above
    `threshold`), with the similarity; None when it echoes none of them."""
    own = list(names)
    for sent in sorted(sends, key=lambda s: (s.sent_at, s.draft_id), reverse=True):
        score = similarity(
            text, sent.text, a_names=own, b_names=(sent.recipient, sent.recipient_name)
        )
        if score >= threshold:
            return sent, score
    return None
