"""Dissatisfaction, category and incident risk for mentions.

`make_scorer(settings)` is the one way the service gets a scorer. Scoring is pure (its only
I/O is loading the shipped weights, once) and never raises on any text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from listener.domain import Mention, Score
from listener.scoring.base import Scorer
from listener.scoring.lexicon import LEXICON_VERSION, LexiconScorer
from listener.settings import ScoringSettings

__all__ = ["LEXICON_VERSION", "DeferredScorer", "LexiconScorer", "Scorer", "make_scorer"]


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


class DeferredScorer:
    """The configured scorer, built the first time something is scored.

    Commands that only read or review the store (`queue`, `mentions`, `contacts`, `cases`)
    never score, and building the default scorer (importing scikit-learn and SciPy, loading
    the weights and VADER's lexicon) would be most of their start-up. The service and the
    commands that score build it at once instead, so a bad `scoring.model` stops them before
    they do anything; here the same `SettingsError` comes from the first scoring.
    """

    def __init__(self, config: ScoringSettings) -> None:
        self._config = config
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()  # polls score from several threads

    def built(self) -> Scorer:
        scorer = self._scorer
        if scorer is None:
            with self._lock:
                if self._scorer is None:
                    self._scorer = make_scorer(self._config)
                scorer = self._scorer
        return scorer

    @property
    def version(self) -> str:
        return self.built().version

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]:
        return self.built().score_batch(mentions)
