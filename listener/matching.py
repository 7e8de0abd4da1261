"""Decide which configured brand a text is about.

Terms match case-insensitively on word boundaries, so "O2" matches "@O2", "#O2" and "O2's" but
not "CO2" or "O2x". In scripts written without spaces (Chinese, Japanese, Thai ...) there are no
word boundaries to look for, so a term in such a script matches anywhere. Exclusions ("O2 arena")
are removed before matching: "the O2 arena was great" is not about the network, but "after the O2
arena gig my O2 signal died" still is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BrandTerms:
    """What the matcher needs to know about one brand."""

    name: str
    terms: Sequence[str]
    exclude: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class BrandMatch:
    brand: str
    term: str


_UNSPACED_SCRIPTS = (
    "CJK",
    "HIRAGANA",
    "KATAKANA",
    "HANGUL",
    "THAI",
    "LAO",
    "KHMER",
    "MYANMAR",
    "TIBETAN",
)


def _is_unspaced(char: str) -> bool:
    name = unicodedata.name(char, "")
    return any(name.startswith(script) for script in _UNSPACED_SCRIPTS)


def _term_pattern(term: str) -> str:
    """A regex for one term with boundaries only where the script has them."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    first, last = term[0], term[-1]
    # A handle or hashtag carries its own left boundary marker; a word char must not precede it.
    before = "" if _is_unspaced(first) else r"(?<![\w@#])" if first not in "@#" else r"(?<!\w)"
    after = "" if _is_unspaced(last) else r"(?![\w])" if last.isalnum() or last == "_" else ""
    return f"{before}{body}{after}"


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so "O2 UK" wins over "O2" and the reported term is the most specific.
    ordered = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not ordered:
        return None
    pattern = "|".join(f"(?:{_term_pattern(t.strip())})" for t in ordered)
    return re.compile(pattern, re.IGNORECASE)


class BrandMatcher:
    """Compiled matchers for all brands; cheap to call per mention."""

    def __init__(self, brands: Sequence[BrandTerms]) -> None:
        self._brands = [
            (brand.name, _alternation(brand.terms), _alternation(brand.exclude)) for brand in brands
        ]

    def match(self, text: str) -> list[BrandMatch]:
        """Every brand the text is about, in configuration order."""
        if not text:
            return []
        found: list[BrandMatch] = []
        for name, terms, exclude in self._brands:
            if terms is None:
                continue
            haystack = exclude.sub(" ", text) if exclude is not None else text
            hit = terms.search(haystack)
            if hit is not None:
                found.append(BrandMatch(brand=name, term=hit.group(0)))
        return found
