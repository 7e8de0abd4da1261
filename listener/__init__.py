"""listener: hear brand mentions, score dissatisfaction and incident risk, respond with care.

The public surface is small on purpose; everything else is private to its module.
"""

from listener.app import Listener, make_listener
from listener.domain import Category, Draft, DraftStatus, Mention, Score, Signal, StoredMention
from listener.errors import (
    DispatchError,
    InvalidTransition,
    ListenerError,
    NotAllowed,
    NotFound,
    RateLimited,
    SettingsError,
    SourceDisabled,
    SourceError,
    StoreError,
)
from listener.settings import Settings, load_settings

__all__ = [
    "Category",
    "DispatchError",
    "Draft",
    "DraftStatus",
    "InvalidTransition",
    "Listener",
    "ListenerError",
    "Mention",
    "NotAllowed",
    "NotFound",
    "RateLimited",
    "Score",
    "Settings",
    "SettingsError",
    "Signal",
    "SourceDisabled",
    "SourceError",
    "StoreError",
    "StoredMention",
    "load_settings",
    "make_listener",
]
