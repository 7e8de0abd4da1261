"""The desk in a PR person's words: a verdict and the reasons a person would give, channels
as people name them, durations as "4 h" or "3 days". Pure functions of records.

The scores and signals behind a verdict stay on the page, behind a "details" disclosure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from listener.domain import Category, Channel, ComplaintReason, Mention, Score

WIDELY_FOLLOWED = 10_000
MANY_REACTIONS = 100
RISKY = 0.6

_REASONS: dict[ComplaintReason, str] = {
    ComplaintReason.SERVICE: "angry about customer service",
    ComplaintReason.DELAY: "kept waiting",
    ComplaintReason.OUTAGE: "reports an outage",
    ComplaintReason.BILLING: "angry about billing",
    ComplaintReason.PRODUCT: "unhappy with the product",
    ComplaintReason.SPAM: "spam texts or calls",
    ComplaintReason.PRIVACY: "worried about privacy",
}
_CATEGORIES: dict[Category, str] = {
    Category.COMPLAINT: "complaint",
    Category.SPAM_COMPLAINT: "spam texts or calls",
    Category.PRIVACY: "worried about privacy",
    Category.OUTAGE: "reports an outage",
    Category.QUESTION: "asks a question",
    Category.PRAISE: "says something nice",
    Category.NEWS: "news about the brand",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a person would say about a mention at a glance."""

    text: str  # "Unhappy customer"
    kind: str  # a CSS hook: "unhappy", "news", "happy", "neutral"
    reasons: tuple[str, ...]  # two or three, most telling first


def verdict(mention: Mention, score: Score, *, news_article: bool = False) -> Verdict:
    """The verdict on `mention` and up to three plain reasons for it."""
    reasons: list[str] = []
    if score.reason is not None:
        reasons.append(_REASONS[score.reason])
    elif score.category in _CATEGORIES and score.category is not Category.COMPLAINT:
        reasons.append(_CATEGORIES[score.category])
    followers = mention.author_followers
    if followers is not None and followers >= WIDELY_FOLLOWED:
        reasons.append("widely followed author")
    if mention.engagement.total >= MANY_REACTIONS:
        reasons.append("many people reacting")
    if score.incident_risk >= RISKY:
        reasons.append("could be part of a wider incident")
    if news_article:
        text, kind = "News article", "news"
        reasons.insert(0, "a story on a news site, not a customer")
    elif score.category is Category.QUESTION and score.dissatisfaction < 0.85:
        text, kind = "Customer question", "neutral"
        if score.dissatisfied:
            reasons.append("sounds a little frustrated")
    elif score.dissatisfied:
        text, kind = (
            ("Very unhappy customer", "unhappy")
            if score.dissatisfaction >= 0.85
            else ("Unhappy customer", "unhappy")
        )
        if not reasons:
            reasons.append("sounds dissatisfied")
    elif score.category is Category.PRAISE:
        text, kind = "Happy customer", "happy"
    else:
        text, kind = "Not unhappy", "neutral"
    return Verdict(text, kind, tuple(dict.fromkeys(reasons))[:3])


_VOLUME = re.compile(r"volume: (\d+) in the bucket against ([\d.]+) expected")


def trigger_text(trigger: str) -> str:
    """Why an incident opened, in words: "a widely followed author or news site" rather than
    "reach"; "12 mentions in 5 minutes where about 2 were expected" rather than the test."""
    if trigger == "reach":
        return "a widely followed author or a news site wrote about it"
    found = _VOLUME.match(trigger)
    if found:
        count, expected = int(found.group(1)), float(found.group(2))
        return f"a burst of {count} mentions where about {max(expected, 0.1):.1f} were expected"
    return trigger


def reach_text(followers: int | None) -> str:
    """Followers as people read them; none known (or zero, which feeds report for an
    unknown audience) is "reach unknown", not "0 followers"."""
    if not followers:
        return "reach unknown"
    if followers >= 1_000_000:
        return f"{followers / 1_000_000:.1f}M followers"
    if followers >= 10_000:
        return f"{followers / 1000:.0f}k followers"
    return f"{followers:,} followers"


def channel_text(channel: Channel | str, recipient: str) -> str:
    """How a reply goes out, as a person would say it."""
    value = channel.value if isinstance(channel, Channel) else channel
    if value == Channel.MANUAL.value:
        return f"Post by hand at {recipient}" if recipient else "Post by hand"
    if value == Channel.X.value:
        return f"Reply on X to {recipient}" if recipient else "Reply on X"
    if value == Channel.EMAIL.value:
        return f"Email to {recipient}" if recipient else "Email"
    return f"Reply by {value}" + (f" to {recipient}" if recipient else "")


def duration_text(value: timedelta | float | int | None) -> str:
    """A duration as people say it: "90 s", "45 min", "4 h", "1.5 h", "3 days"."""
    if value is None:
        return "unknown"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        hours = seconds / 3600
        return f"{hours:.0f} h" if hours.is_integer() or hours >= 10 else f"{hours:.1f} h"
    days = seconds / 86400
    return f"{days:.0f} days" if days.is_integer() or days >= 10 else f"{days:.1f} days"
