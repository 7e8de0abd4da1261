"""From a reading and a dissatisfaction probability to a full `Score`: category, reason and
incident risk, which every scorer decides the same way.

Incident risk is a hand-set log-odds sum, like the lexicon: incident language, the kind of
complaint (privacy and outage complaints tend to be shared by many at once), the author's reach
(followers, verified), a news site, and engagement. Its signals are listed after the
dissatisfaction signals and carry the same "signed contribution" meaning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from listener.domain import Category, ComplaintReason, Mention, Score, Signal
from listener.scoring.cues import Family
from listener.scoring.reading import Reading

_INCIDENT_BASELINE = -2.6
_INCIDENT_CAP = 3.0
_CATEGORY_RISK = {
    Category.PRIVACY: 1.6,
    Category.OUTAGE: 1.2,
    Category.SPAM_COMPLAINT: 0.3,
    Category.COMPLAINT: 0.3,
}
_VERIFIED = 0.5
# A news site's reach; what it reports about is in the incident language.
_NEWS_SITE = 0.8
# A specific complaint family wins over a general complaint when its cues add up to this.
_SPECIFIC_FAMILY_MIN = 0.8
_GENERAL_REASONS = frozenset(
    {
        ComplaintReason.SERVICE,
        ComplaintReason.DELAY,
        ComplaintReason.BILLING,
        ComplaintReason.PRODUCT,
    }
)
_COMPLAINT_FAMILIES = frozenset(
    {Family.COMPLAINT, Family.SPAM, Family.PRIVACY, Family.OUTAGE, Family.SARCASM}
)
_SPECIFIC_FAMILIES = (
    (Family.PRIVACY, Category.PRIVACY, ComplaintReason.PRIVACY),
    (Family.SPAM, Category.SPAM_COMPLAINT, ComplaintReason.SPAM),
    (Family.OUTAGE, Category.OUTAGE, ComplaintReason.OUTAGE),
)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def categorise(
    reading: Reading, dissatisfied: bool, news_like: bool
) -> tuple[Category, ComplaintReason | None]:
    """What the mention is; complaint categories only for a dissatisfied author."""
    if news_like:
        return Category.NEWS, None
    family_weight: dict[Family, float] = {}
    reason_weight: dict[ComplaintReason, float] = {}
    for hit in reading.cues:
        cue = hit.cue
        family_weight[cue.family] = family_weight.get(cue.family, 0.0) + cue.weight
        if cue.reason is not None:
            reason_weight[cue.reason] = reason_weight.get(cue.reason, 0.0) + cue.weight
    if dissatisfied:
        specific = [
            (family_weight[family], category, reason)
            for family, category, reason in _SPECIFIC_FAMILIES
            if family_weight.get(family, 0.0) >= _SPECIFIC_FAMILY_MIN
        ]
        if specific:
            _, category, reason = max(specific, key=lambda item: item[0])
            return category, reason
        if reading.question and not any(
            hit.cue.family in _COMPLAINT_FAMILIES and hit.cue.weight >= 0.5 for hit in reading.cues
        ):
            # Unhappy enough to ask, but nothing says what about: a question for a person.
            return Category.QUESTION, None
        general = {r: w for r, w in reason_weight.items() if r in _GENERAL_REASONS}
        if not general:
            return Category.COMPLAINT, None
        return Category.COMPLAINT, max(general, key=lambda r: (general[r], r.value))
    if reading.question:
        return Category.QUESTION, None
    if family_weight.get(Family.PRAISE, 0.0) <= -0.5 or reading.compound >= 0.5:
        return Category.PRAISE, None
    return Category.OTHER, None


def _reach_label(followers: int) -> str:
    if followers >= 1_000_000:
        return f"{followers / 1_000_000:.1f}M".replace(".0M", "M")
    if followers >= 1_000:
        return f"{followers // 1_000}k"
    return str(followers)


def incident_evidence(mention: Mention, reading: Reading, category: Category) -> list[Signal]:
    """Signed log-odds contributions to incident risk (baseline not included)."""
    signals: list[Signal] = []
    incident = {h.cue.phrase: h.cue.weight for h in reading.cues if h.cue.family is Family.INCIDENT}
    language = sorted(incident.items(), key=lambda item: (-item[1], item[0])) if incident else []
    total = 0.0
    for rank, (phrase, weight) in enumerate(language[:4]):
        share = min(weight * (1.0, 0.6, 0.4, 0.3)[rank], _INCIDENT_CAP - total)
        if share <= 0:
            break
        total += share
        signals.append(Signal(f'incident language: "{phrase}"', round(share, 3)))
    if category in _CATEGORY_RISK:
        signals.append(Signal(f"{category.value} mention", _CATEGORY_RISK[category]))
    followers = mention.author_followers
    if isinstance(followers, int) and followers >= 1_000:
        reach = min(2.0, 0.6 * (math.log10(followers) - 3.0))
        if reach >= 0.05:
            signals.append(Signal(f"author reach {_reach_label(followers)}", round(reach, 3)))
    if mention.author_verified:
        signals.append(Signal("verified author", _VERIFIED))
    if reading.news_domain:
        signals.append(Signal(f"news site {reading.news_domain}", _NEWS_SITE))
    engagement = mention.engagement.total
    if engagement > 0:
        weight = min(1.5, 0.45 * math.log10(1 + engagement))
        if weight >= 0.05:
            signals.append(Signal(f"engagement {engagement}", round(weight, 3)))
    return signals


def build_score(
    mention: Mention,
    reading: Reading,
    probability: float,
    evidence: Sequence[Signal],
    *,
    threshold: float,
    version: str,
) -> Score:
    probability = min(1.0, max(0.0, probability))
    if math.isnan(probability):
        probability = 0.5
    dissatisfied = probability >= threshold
    category, reason = categorise(reading, dissatisfied, reading.news_like)
    risk_signals = incident_evidence(mention, reading, category)
    risk = sigmoid(_INCIDENT_BASELINE + sum(s.weight for s in risk_signals))
    return Score(
        dissatisfaction=probability,
        dissatisfied=dissatisfied,
        incident_risk=risk,
        category=category,
        reason=reason,
        signals=tuple(evidence) + tuple(risk_signals),
        scorer=version,
    )


def fallback_score(error: BaseException, version: str) -> Score:
    """Even odds and no category when scoring itself failed; the signal says why."""
    return Score(
        dissatisfaction=0.5,
        dissatisfied=False,
        incident_risk=0.0,
        category=Category.OTHER,
        reason=None,
        signals=(Signal(f"scoring failed: {type(error).__name__}", 0.0),),
        scorer=version,
    )
