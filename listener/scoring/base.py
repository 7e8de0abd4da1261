"""The Scorer protocol: how the pipeline asks for dissatisfaction and incident risk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from listener.domain import Mention, Score


class Scorer(Protocol):
    """Scores mentions in batches (vectorised models are far faster per batch than per text).

    Must be deterministic, must never raise on any text (empty, huge, hostile), and must return
    exactly one `Score` per input, in order.
    """

    @property
    def version(self) -> str:
        """Names the model and weights: stored with each score."""
        ...

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]: ...
