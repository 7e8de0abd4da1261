"""An incident as detection sees it: who is involved, how big, what kind, in plain words.

`IncidentProfile` is kept with the incident (as JSON) so grouping, severity and the summary
can be recomputed after a restart without reading every mention again.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from listener.domain import Category
from listener.incidents.types import IncidentType, mention_cues, story_type

__all__ = ["IncidentType"]


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def level(self) -> int:
        return _LEVELS.index(self)

    @classmethod
    def at_level(cls, level: int) -> Severity:
        return _LEVELS[max(0, min(level, len(_LEVELS) - 1))]


_LEVELS = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
UNKNOWN_REACH = -1
_READ_ALL = 50
_READ_EVERY = 10
GROWTH_LIMIT = 24


class IncidentStatus(StrEnum):
    """open → acknowledged → resolved (quiet) | closed (by a person) | merged (into another)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"

    @property
    def is_active(self) -> bool:
        return self in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


@lru_cache(maxsize=4096)
def cues_of(text: str) -> tuple[tuple[str, float], ...]:
    """A text's type evidence as an observation carries it: (type, weight), by type. Cached:
    a story's copies and a mention asked about again are read once."""
    return tuple(sorted((k.value, w) for k, w in mention_cues(text).items()))


@dataclass(frozen=True, slots=True)
class Observation:
    """One stored mention reduced to what detection and grouping need."""

    mention_id: int
    brand: str
    at: datetime
    source: str
    source_kind: str
    author: str
    followers: int
    verified: bool
    news: bool
    url: str
    story_key: str
    title: str
    text: str
    category: str
    dissatisfied: bool
    risk: float
    words: frozenset[str]
    # Evidence of incident types in the text (see `types.mention_cues`), as (type, weight);
    # None: not read yet (`type_cues` reads it when needed, only for concerning mentions).
    cues: tuple[tuple[str, float], ...] | None = None
    # False when the source did not say how many followers the author has (`followers` is 0).
    reach_known: bool = True
    # The text with links, handles and retweet marks removed, hashed: near-duplicates match.
    fingerprint: int = 0

    @property
    def reach(self) -> int:
        return self.followers

    def type_cues(self, risk_threshold: float) -> tuple[tuple[str, float], ...]:
        """The type evidence of a concerning mention (none for others), read once per text."""
        if self.cues is not None:
            return self.cues
        if not self.concerning(risk_threshold):
            return ()
        return cues_of(f"{self.title}\n{self.text}" if self.title else self.text)

    def concerning(self, risk_threshold: float) -> bool:
        """Dissatisfied or risky: what the crisis series counts."""
        return self.dissatisfied or self.risk >= risk_threshold


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """Mention counts for medium, high, critical; follower counts for medium and high."""

    mentions: tuple[int, int, int] = (10, 50, 250)
    reach_medium: int = 100_000
    reach_high: int = 1_000_000
    total_reach_critical: int = 10_000_000
    risk_bump: float = 0.8


@dataclass
class IncidentProfile:
    """Running figures of an incident, rebuilt from JSON after a restart."""

    brand: str
    first_at: datetime
    last_at: datetime
    mention_count: int = 0
    concerning_count: int = 0
    risk_sum: float = 0.0
    max_followers: int = 0
    total_reach: int = 0
    news_count: int = 0
    story_keys: list[str] = field(default_factory=list)
    terms: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    authors: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    # Summed type evidence of the mentions (type value -> weight): what `type` is decided from.
    evidence: dict[str, float] = field(default_factory=dict)
    # How the story grew: opened, each severity step, mention milestones, new themes.
    growth: list[dict[str, Any]] = field(default_factory=list)
    # Words since the last growth point: what people say now, as opposed to overall.
    recent_terms: Counter[str] = field(default_factory=Counter)

    def add(self, obs: Observation, risk_threshold: float) -> None:
        self.mention_count += 1
        if obs.concerning(risk_threshold):
            self.concerning_count += 1
            self.categories[obs.category] += 1
            # What the upset are saying lately: the story's sub-themes as they appear.
            self.recent_terms.update(obs.words)
            if len(self.recent_terms) > 120:
                self.recent_terms = Counter(dict(ranked(self.recent_terms, 60)))
            count = self.concerning_count
            if count <= _READ_ALL or count % _READ_EVERY == 0:
                # Past the first fifty, one concerning mention in ten is read for type
                # evidence, counted ten times: a big story's type is settled by then, and
                # reading every post of it would cost more than the rest of detection.
                scale = 1 if count <= _READ_ALL else _READ_EVERY
                for kind, weight in obs.type_cues(risk_threshold):
                    self.evidence[kind] = round(self.evidence.get(kind, 0.0) + weight * scale, 4)
        self.risk_sum += obs.risk
        self.first_at = min(self.first_at, obs.at)
        self.last_at = max(self.last_at, obs.at)
        self.max_followers = max(self.max_followers, obs.followers)
        self.total_reach += obs.followers
        self.news_count += 1 if obs.news else 0
        if obs.story_key and obs.story_key not in self.story_keys and len(self.story_keys) < 50:
            self.story_keys.append(obs.story_key)
        self.terms.update(obs.words)
        if len(self.terms) > 300:
            self.terms = Counter(dict(ranked(self.terms, 150)))
        self.sources[obs.source_kind or obs.source] += 1
        if obs.author:
            # -1: the source did not say how many followers the author has (reach unknown).
            followers = obs.followers if obs.reach_known else UNKNOWN_REACH
            known = self.authors.get(obs.author)
            if known is None or followers > known:
                self.authors[obs.author] = followers
                if len(self.authors) > 60:
                    self.authors = dict(
                        sorted(self.authors.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
                    )
        self._keep_sample(obs)

    def _keep_sample(self, obs: Observation) -> None:
        samples = self.samples
        if len(samples) >= 5:
            # Sorted and stable: a sample not ahead of the fifth would be cut right away.
            fifth = samples[4]
            if (-obs.followers, -round(obs.risk, 3)) >= (
                -int(fifth["followers"]),
                -float(fifth["risk"]),
            ):
                del samples[5:]
                return
        sample = {
            "mention_id": obs.mention_id,
            "author": obs.author,
            "followers": obs.followers,
            "reach_known": obs.reach_known,
            "source": obs.source,
            "text": (obs.title or obs.text)[:280],
            "risk": round(obs.risk, 3),
        }
        self.samples.append(sample)
        self.samples.sort(key=lambda s: (-int(s["followers"]), -float(s["risk"])))
        del self.samples[5:]

    def merge(self, other: IncidentProfile) -> None:
        self.mention_count += other.mention_count
        self.concerning_count += other.concerning_count
        self.risk_sum += other.risk_sum
        self.first_at = min(self.first_at, other.first_at)
        self.last_at = max(self.last_at, other.last_at)
        self.max_followers = max(self.max_followers, other.max_followers)
        self.total_reach += other.total_reach
        self.news_count += other.news_count
        self.story_keys = list(dict.fromkeys([*self.story_keys, *other.story_keys]))[:50]
        self.terms.update(other.terms)
        self.categories.update(other.categories)
        self.sources.update(other.sources)
        for author, followers in other.authors.items():
            self.authors[author] = max(followers, self.authors.get(author, UNKNOWN_REACH))
        for kind, weight in other.evidence.items():
            self.evidence[kind] = round(self.evidence.get(kind, 0.0) + weight, 4)
        self.growth = sorted([*self.growth, *other.growth], key=lambda g: str(g["at"]))[
            -GROWTH_LIMIT:
        ]
        self.samples = sorted(
            [*self.samples, *other.samples],
            key=lambda s: (-int(s["followers"]), -float(s["risk"])),
        )[:5]

    @property
    def mean_risk(self) -> float:
        return self.risk_sum / self.mention_count if self.mention_count else 0.0

    @property
    def dominant_category(self) -> str:
        if not self.categories:
            return Category.OTHER.value
        return ranked(self.categories, 1)[0][0]

    @property
    def type(self) -> IncidentType:
        return story_type(self.evidence, self.concerning_count or self.mention_count)

    def top_authors(self, n: int = 5) -> list[dict[str, Any]]:
        """The biggest amplifiers; `followers` is None where the source gave no count."""
        top = sorted(self.authors.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [
            {"author": a, "followers": f if f >= 0 else None, "reach_known": f >= 0} for a, f in top
        ]

    def themes(self, n: int = 5) -> list[str]:
        """The story's most frequent distinctive words (links and platform words never count)."""
        return [t for t, _ in ranked(self.terms, n)]

    def talk_now(self, n: int = 4) -> tuple[list[str], list[str]]:
        """The words of the mentions since the last growth point, and those of them that no
        earlier point had: the story's new sub-themes (a boycott, a CEO statement ...)."""
        now = [t for t, _ in ranked(self.recent_terms, n)]
        seen = self.noted_themes()
        return now, [t for t in now if t not in seen]

    def note(self, at: datetime, what: str, severity: Severity, **detail: Any) -> None:
        """Add a point to the story's growth timeline (kept to the last `GROWTH_LIMIT`)."""
        self.growth.append(
            {
                "at": at.isoformat(),
                "what": what,
                "mentions": self.mention_count,
                "severity": severity.value,
                **detail,
            }
        )
        del self.growth[:-GROWTH_LIMIT]
        self.recent_terms = Counter()

    def noted_themes(self) -> set[str]:
        seen: set[str] = set()
        for point in self.growth:
            seen.update(point.get("themes", ()))
        return seen

    def severity(self, rule: SeverityRule) -> Severity:
        return severity_of(self, rule)

    def as_json(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "mention_count": self.mention_count,
            "concerning_count": self.concerning_count,
            "risk_sum": round(self.risk_sum, 4),
            "max_followers": self.max_followers,
            "total_reach": self.total_reach,
            "news_count": self.news_count,
            "story_keys": self.story_keys,
            "terms": dict(ranked(self.terms, 150)),
            "categories": dict(self.categories),
            "sources": dict(self.sources),
            "authors": self.authors,
            "samples": self.samples,
            "evidence": dict(sorted(self.evidence.items())),
            "growth": self.growth,
            "recent_terms": dict(ranked(self.recent_terms, 60)),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncidentProfile:
        return cls(
            brand=str(data["brand"]),
            first_at=_parse_time(data["first_at"]),
            last_at=_parse_time(data["last_at"]),
            mention_count=int(data.get("mention_count", 0)),
            concerning_count=int(data.get("concerning_count", 0)),
            risk_sum=float(data.get("risk_sum", 0.0)),
            max_followers=int(data.get("max_followers", 0)),
            total_reach=int(data.get("total_reach", 0)),
            news_count=int(data.get("news_count", 0)),
            story_keys=[str(k) for k in data.get("story_keys", [])],
            terms=Counter({str(k): int(v) for k, v in dict(data.get("terms", {})).items()}),
            categories=Counter(
                {str(k): int(v) for k, v in dict(data.get("categories", {})).items()}
            ),
            sources=Counter({str(k): int(v) for k, v in dict(data.get("sources", {})).items()}),
            authors={str(k): int(v) for k, v in dict(data.get("authors", {})).items()},
            samples=list(data.get("samples", [])),
            evidence={str(k): float(v) for k, v in dict(data.get("evidence", {})).items()},
            growth=list(data.get("growth", [])),
            recent_terms=Counter(
                {str(k): int(v) for k, v in dict(data.get("recent_terms", {})).items()}
            ),
        )

    @classmethod
    def starting_with(cls, obs: Observation, risk_threshold: float) -> IncidentProfile:
        profile = cls(brand=obs.brand, first_at=obs.at, last_at=obs.at)
        profile.add(obs, risk_threshold)
        return profile


def ranked(counts: Mapping[str, int], n: int) -> list[tuple[str, int]]:
    """The `n` most frequent keys, most frequent first, equal counts in name order.

    `Counter.most_common` breaks ties by insertion order, and words are inserted by iterating
    a set of strings, whose order changes with PYTHONHASHSEED: titles would too.
    """
    return heapq.nsmallest(n, counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _parse_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def severity_of(profile: IncidentProfile, rule: SeverityRule) -> Severity:
    """The larger of the volume level and the reach level, one up when nearly all is high risk."""
    count = profile.mention_count
    volume = sum(1 for threshold in rule.mentions if count >= threshold)
    reach = 0
    if profile.max_followers >= rule.reach_medium or profile.news_count > 0:
        reach = 1
    if profile.max_followers >= rule.reach_high:
        reach = 2
    if profile.total_reach >= rule.total_reach_critical:
        reach = 3
    level = max(volume, reach)
    if profile.mean_risk >= rule.risk_bump and count >= rule.mentions[0]:
        level += 1
    return Severity.at_level(level)


def reach_text(followers: int | None) -> str:
    """ "12,000 followers", or "reach unknown" where the source gave no count."""
    return "reach unknown" if followers is None or followers < 0 else f"{followers:,} followers"


def summary(profile: IncidentProfile, *, top_terms: int = 6) -> str:
    """A short plain-text account: what kind, how many, from where, the themes, who, a sample."""
    kind = profile.type
    themes = ", ".join(profile.themes(top_terms)) or "no common words"
    sources = ", ".join(f"{s} ({n})" for s, n in ranked(profile.sources, 4))
    lines = [
        f"{kind.label} about {profile.brand}: {kind.meaning}",
        f"{profile.mention_count} mention(s) since {profile.first_at:%Y-%m-%d %H:%M} UTC "
        f"from {sources}.",
        f"Themes: {themes}.",
    ]
    if profile.authors:
        amplifiers = ", ".join(
            f"{a['author']} ({reach_text(a['followers'])})" for a in profile.top_authors(3)
        )
        lines.append(f"Amplified by: {amplifiers}.")
    if profile.samples:
        lines.append(f'Example: "{profile.samples[0]["text"]}"')
    return "\n".join(lines)


def title(profile: IncidentProfile, *, top_terms: int = 4) -> str:
    """A title a person reads: "Customer treatment at Skyline Air: passenger, dragged, video —
    in the news", the kind of story, its themes, and how it is spreading."""
    kind = profile.type
    themes = ", ".join(profile.themes(top_terms))
    head = f"{kind.label} at {profile.brand}"
    text = f"{head}: {themes}" if themes else head
    if profile.news_count:
        spread = "in the news"
    elif profile.max_followers >= 100_000:
        spread = "shared by large accounts"
    elif profile.mention_count >= 50:
        spread = "spreading"
    else:
        spread = ""
    return f"{text} — {spread}" if spread else text
