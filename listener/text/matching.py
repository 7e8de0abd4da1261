"""Decide which configured brand a text is about.

Terms match case-insensitively on word boundaries, so "O2" matches "@O2", "#O2" and "O2's" but
not "CO2" or "O2x". In scripts written without spaces (Chinese, Japanese, Thai ...) there are no
word boundaries to look for, so a term in such a script matches anywhere. Exclusions ("O2 arena")
are removed before matching: "the O2 arena was great" is not about the network, but "after the O2
arena gig my O2 signal died" still is.

A brand whose terms are all ASCII also has a second, equivalent pattern run on the lower-cased text:
every alternative starts with a plain character and checks the boundary behind it afterwards, which
lets the regex engine skip ahead to the places a term can start (a lookbehind first, or IGNORECASE,
makes it try every position of every text). It is equivalent because lower-casing keeps every
character's position and whether it is a word character or a space, and no character outside ASCII
matches an ASCII one case-insensitively except the four in `_FOLDS_TO_ASCII`; a text with one of
those takes the reference path.
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


# Every character beyond ASCII that IGNORECASE matches to an ASCII one: capital I with a dot,
# dotless i, long s and the Kelvin sign (tests/text/test_matching.py checks every code point).
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def _is_unspaced(char: str) -> bool:
    name = unicodedata.name(char, "")
    return any(name.startswith(script) for script in _UNSPACED_SCRIPTS)


def _not_before(first: str) -> str:
    """What must not come just before a term starting with `first` (empty: no boundary)."""
    if _is_unspaced(first):
        return ""
    # A handle or hashtag carries its own left boundary marker; a word char must not precede it.
    return r"\w" if first in "@#" else r"[\w@#]"


def _boundary_after(last: str) -> str:
    """The lookahead ending a term whose last character is `last`."""
    if _is_unspaced(last):
        return ""
    return r"(?![\w])" if last.isalnum() or last == "_" else ""


def _term_pattern(term: str) -> str:
    """A regex for one term with boundaries only where the script has them."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    not_before = _not_before(term[0])
    before = f"(?<!{not_before})" if not_before else ""
    return f"{before}{body}{_boundary_after(term[-1])}"


def _ordered(terms: Iterable[str]) -> list[str]:
    # Longest first, so "O2 UK" wins over "O2" and the reported term is the most specific.
    return sorted({t for t in terms if t.strip()}, key=len, reverse=True)


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    ordered = _ordered(terms)
    if not ordered:
        return None
    pattern = "|".join(f"(?:{_term_pattern(t.strip())})" for t in ordered)
    return re.compile(pattern, re.IGNORECASE)


def _ascii_term_pattern(term: str) -> str:
    """`_term_pattern` of an ASCII term, lower-cased, for lower-cased ASCII text: the same
    boundaries, but the one before the term is checked after its first character."""
    parts = term.lower().split()
    head, first_rest = parts[0][0], parts[0][1:]
    body = r"\s+".join([re.escape(first_rest), *(re.escape(part) for part in parts[1:])])
    behind = f"(?<!{_not_before(head)}.)"  # an ASCII character always has a boundary
    return f"{re.escape(head)}{behind}{body}{_boundary_after(term[-1])}"


def _ascii_alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    """The fast twin of `_alternation`, or None when a term is not ASCII (its case-insensitive
    matches are then not just those of its lower case)."""
    ordered = _ordered(terms)
    if not ordered or not all(t.isascii() for t in ordered):
        return None
    # No group around each alternative: the engine looks for a common first character only
    # when every alternative begins with a plain one.
    return re.compile("|".join(_ascii_term_pattern(t.strip()) for t in ordered))


@dataclass(frozen=True, slots=True)
class _BrandPatterns:
    name: str
    terms: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    # The same two for lower-cased ASCII text; `fast` is None when a term is not ASCII, and
    # `fast_exclude` None also when there are no exclusions.
    fast: re.Pattern[str] | None
    fast_exclude: re.Pattern[str] | None


class BrandMatcher:
    """Compiled matchers for all brands; cheap to call per mention."""

    def __init__(self, brands: Sequence[BrandTerms]) -> None:
        self._brands = []
        for brand in brands:
            exclude = _alternation(brand.exclude)
            fast = _ascii_alternation(brand.terms)
            fast_exclude = _ascii_alternation(brand.exclude) if exclude is not None else None
            if exclude is not None and fast_exclude is None:
                fast = None  # an exclusion beyond ASCII: only the reference patterns know it
            patterns = _BrandPatterns(
                brand.name, _alternation(brand.terms), exclude, fast, fast_exclude
            )
            self._brands.append(patterns)

    def match(self, text: str) -> list[BrandMatch]:
        """Every brand the text is about, in configuration order."""
        if not text:
            return []
        plain = text.isascii() or _FOLDS_TO_ASCII.search(text) is None
        lowered = text.lower() if plain else None
        found: list[BrandMatch] = []
        for brand in self._brands:
            term = self._term_in(brand, text, lowered)
            if term is not None:
                found.append(BrandMatch(brand=brand.name, term=term))
        return found

    @staticmethod
    def _term_in(brand: _BrandPatterns, text: str, lowered: str | None) -> str | None:
        """The brand's term found in `text` (as written there), or None."""
        if brand.terms is None:
            return None
        # Lower-casing keeps every position here, so a span found in `lowered` is the same span
        # of `text`. With an exclusion present the reference path below works out what is left.
        if (
            lowered is not None
            and brand.fast is not None
            and (brand.fast_exclude is None or brand.fast_exclude.search(lowered) is None)
        ):
            hit = brand.fast.search(lowered)
            return None if hit is None else text[hit.start() : hit.end()]
        haystack = brand.exclude.sub(" ", text) if brand.exclude is not None else text
        hit = brand.terms.search(haystack)
        return None if hit is None else hit.group(0)
