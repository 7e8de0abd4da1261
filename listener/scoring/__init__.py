"""Dissatisfaction, category and incident risk for mentions.

`make_scorer(settings)` is the one way the service gets a scorer. Scoring is pure (its only
I/O is loading the shipped weights, once) and never raises on any text.
"""

from __future__ import annotations

from pathlib import Path

from listener.scoring.base import Scorer
from listener.scoring.lexicon import LEXICON_VERSION, LexiconScorer
from listener.settings import ScoringSettings

__all__ = ["LEXICON_VERSION", "LexiconScorer", "Scorer", "make_scorer"]


def make_scorer(config: ScoringSettings | None = None) -> Scorer:
    """The scorer the settings ask for: "default" (shipped weights), "lexicon", or a weights
    directory written by `python -m listener.scoring.train`.

    Raises `SettingsError` when that directory is missing or unreadable.
    """
    config = config or ScoringSettings()
    threshold = config.dissatisfied_threshold
    if config.model == "lexicon":
        return LexiconScorer(dissatisfied_threshold=threshold)
    # Imported here so the lexicon scorer never pays for scikit-learn and SciPy.
    from listener.scoring.model import SHIPPED_WEIGHTS, ModelScorer, load_weights

    directory = (
        SHIPPED_WEIGHTS if config.model == "default" else Path(config.model).expanduser().resolve()
    )
    return ModelScorer(load_weights(directory), dissatisfied_threshold=threshold)
