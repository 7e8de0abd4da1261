"""Storage behind one facade; tables and SQL stay inside this package."""

from listener.store.drafts import DraftFilter
from listener.store.mentions import (
    BatchWrite,
    IngestItem,
    MentionFilter,
    OptOutSeen,
    PlannedDraft,
)
from listener.store.sources import SourceStatus
from listener.store.store import Store

__all__ = [
    "BatchWrite",
    "DraftFilter",
    "IngestItem",
    "MentionFilter",
    "OptOutSeen",
    "PlannedDraft",
    "SourceStatus",
    "Store",
]
