"""Dissatisfaction, category and incident risk for mentions.

`make_scorer(settings)` is the one way the service gets a scorer; everything here is pure (no
I/O beyond loading the shipped weights once) and never raises on any text.
"""

from __future__ import annotations

from listener.scoring.base import Scorer
from listener.scoring.lexicon import LEXICON_VERSION, LexiconScorer
from listener.settings import ScoringSettings

__all__ = ["LEXICON_VERSION", "LexiconScorer", "Scorer", "make_scorer"]


def make_scorer(config: ScoringSettings | None = None) -> Scorer:
    """The scorer the settings ask for."""
    config = config or ScoringSettings()
    return LexiconScorer(dissatisfied_threshold=config.dissatisfied_threshold)
