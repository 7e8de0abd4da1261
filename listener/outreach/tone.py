"""Customer care, not sales: find promotional phrases a reviewer should think twice about.

Pure. The review page shows the phrases found when `outreach.warn_promotional` is on; nothing is
blocked, because "offer" can be innocent ("we'd like to offer an apology").
"""

from __future__ import annotations

import re

__all__ = ["PROMOTIONAL_PHRASES", "promotional_phrases"]

PROMOTIONAL_PHRASES = (
    "discount",
    "offer",
    "upgrade now",
    "upgrade today",
    "limited time",
    "special deal",
    "exclusive deal",
    "sign up now",
    "buy now",
    "order now",
    "act now",
    "don't miss out",
    "promo code",
    "voucher code",
    "coupon",
    "free trial",
    "% off",
    "sale ends",
    "best price",
)

_PATTERNS = [
    (phrase, re.compile(r"\d+\s*%\s*off\b" if phrase == "% off" else rf"\b{re.escape(phrase)}\w*"))
    for phrase in PROMOTIONAL_PHRASES
]


def promotional_phrases(text: str) -> list[str]:
    """The promotional phrases in `text` as written there, in order of appearance, once each."""
    lowered = text.lower().replace("\u2019", "'")
    found: list[tuple[int, str]] = []
    for _phrase, pattern in _PATTERNS:
        for match in pattern.finditer(lowered):
            found.append((match.start(), text[match.start() : match.end()]))
    seen: set[str] = set()
    out = []
    for _, words in sorted(found):
        if words.lower() not in seen:
            seen.add(words.lower())
            out.append(words)
    return out
