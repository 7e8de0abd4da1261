"""Dissatisfaction from VADER and the cue lexicons alone: no trained weights needed.

The log-odds are a hand-set sum, so each signal's weight is exactly its share of the score:
a baseline, VADER's compound (negative sentiment pushes up; positive sentiment pushes down, but
only weakly when complaint cues are present, because "great, another delay" is sarcasm), and
the cues with diminishing returns (the second cue counts 70 %, the third 50 % ...) so that a
rant of twenty complaint words does not saturate differently from one of five.
"""

from __future__ import annotations

from collections.abc import Sequence

from listener.domain import Mention, Score, Signal
from listener.scoring.cues import Family
from listener.scoring.reading import Reading, SentimentAnalyzer, read, vader
from listener.scoring.verdict import build_score, fallback_score, sigmoid

LEXICON_VERSION = "lexicon-1"

# Log-odds with no evidence at all: fitted on the training splits of both datasets with each
# class weighted equally (slope held at 1), the same "0.5 is even odds" as the learned model.
BASELINE = -0.2
_NEGATIVE_SENTIMENT = 1.8
_POSITIVE_SENTIMENT = 1.0
_SARCASM_DAMPING = 0.3
_DIMINISHING = (1.0, 0.7, 0.5, 0.35, 0.25, 0.2)
_CUE_CAP = 3.5
_INCIDENT_AS_COMPLAINT = 0.4
_QUESTION = -0.3
NEWS_WEIGHT = -1.5
# Complaint evidence at least this strong turns praise words into sarcasm.
_SARCASM_MIN_COMPLAINT = 1.3

_COMPLAINT_FAMILIES = frozenset(
    {Family.COMPLAINT, Family.SPAM, Family.PRIVACY, Family.OUTAGE, Family.SARCASM}
)


def _strongest_first(item: tuple[str, float]) -> tuple[float, str]:
    return -item[1], item[0]


def _diminished(weights: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Largest first, each next one counting less, total capped."""
    ordered = sorted(weights, key=_strongest_first) if len(weights) > 1 else weights
    shares: list[tuple[str, float]] = []
    total = 0.0
    seen: set[str] = set()
    for rank, (name, weight) in enumerate(ordered):
        if name in seen:
            continue
        seen.add(name)
        factor = _DIMINISHING[min(len(seen) - 1, len(_DIMINISHING) - 1)]
        share = min(weight * factor, _CUE_CAP - total)
        if share <= 0.005 or rank > 12:
            break
        total += share
        shares.append((name, round(share, 3)))
    return shares


def lexicon_evidence(reading: Reading, mention: Mention) -> list[Signal]:
    """Signed log-odds contributions to dissatisfaction; their sum plus BASELINE is the logit."""
    return [Signal(name, weight) for name, weight in evidence_weights(reading)]


def evidence_weights(reading: Reading) -> list[tuple[str, float]]:
    """`lexicon_evidence` as (name, weight) pairs, for callers that only add them up (the
    learned scorer reads thousands of texts a second; a Signal each is a measurable cost)."""
    complaint: list[tuple[str, float]] = []
    praise: list[tuple[str, float]] = []
    for hit in reading.cues:
        cue = hit.cue
        family = cue.family
        if family in _COMPLAINT_FAMILIES:
            complaint.append((f'cue: "{cue.phrase}"', cue.weight))
        elif family is Family.INCIDENT:
            complaint.append((f'incident cue: "{cue.phrase}"', _INCIDENT_AS_COMPLAINT))
        elif family is Family.PRAISE:
            praise.append((f'cue: "{cue.phrase}"', -cue.weight))  # magnitude; sign added below

    complaint_shares = _diminished(complaint) if complaint else complaint
    complaint_strength = sum(weight for _, weight in complaint_shares)
    sarcastic = complaint_strength >= _SARCASM_MIN_COMPLAINT and (praise or reading.compound > 0.3)
    weights: list[tuple[str, float]] = []

    compound = reading.compound
    if compound < 0:
        weights.append((f"negative sentiment {compound:+.2f}", -_NEGATIVE_SENTIMENT * compound))
    elif compound > 0:
        damping = _SARCASM_DAMPING if sarcastic else 1.0
        weights.append(
            (f"positive sentiment {compound:+.2f}", -_POSITIVE_SENTIMENT * damping * compound)
        )
    weights += complaint_shares
    if sarcastic:
        weights.append(("sarcasm: praise words beside a complaint", 0.6))
    elif praise:
        weights += [(name, -weight) for name, weight in _diminished(praise)]
    if reading.question and complaint_strength < _SARCASM_MIN_COMPLAINT:
        weights.append(("a question", _QUESTION))
    if reading.news_like:
        weights.append(("reads like a news report", NEWS_WEIGHT))
    return [item for item in weights if abs(item[1]) >= 0.005]


class LexiconScorer:
    """VADER plus cue lexicons: fast, explainable, needs no weights file."""

    def __init__(
        self,
        dissatisfied_threshold: float = 0.5,
        analyzer: SentimentAnalyzer | None = None,
    ) -> None:
        self.version = LEXICON_VERSION
        self.dissatisfied_threshold = dissatisfied_threshold
        self._analyzer = analyzer or vader()

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]:
        return [self._score_one(mention) for mention in mentions]

    def _score_one(self, mention: Mention) -> Score:
        try:
            reading = read(mention, self._analyzer)
            evidence = evidence_weights(reading)
            probability = sigmoid(BASELINE + sum(weight for _, weight in evidence))
            return build_score(
                mention,
                reading,
                probability,
                [Signal(name, round(weight, 4)) for name, weight in evidence],  # as stored
                threshold=self.dissatisfied_threshold,
                version=self.version,
            )
        except Exception as exc:  # the protocol forbids raising; say what happened instead
            return fallback_score(exc, self.version)
