"""listener: hear brand mentions, score dissatisfaction and incident risk, respond with care.

The public surface is small on purpose; everything else is private to its module. Names are
loaded on first use, so importing the pure core (e.g. `listener.domain`) does not drag in the
database, HTTP or X libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listener.app import Listener, make_listener
    from listener.domain import (
        Category,
        Draft,
        DraftStatus,
        Mention,
        Score,
        Signal,
        StoredMention,
    )
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

_WHERE = {
    "Listener": "listener.app",
    "make_listener": "listener.app",
    "Category": "listener.domain",
    "Draft": "listener.domain",
    "DraftStatus": "listener.domain",
    "Mention": "listener.domain",
    "Score": "listener.domain",
    "Signal": "listener.domain",
    "StoredMention": "listener.domain",
    "DispatchError": "listener.errors",
    "InvalidTransition": "listener.errors",
    "ListenerError": "listener.errors",
    "NotAllowed": "listener.errors",
    "NotFound": "listener.errors",
    "RateLimited": "listener.errors",
    "SettingsError": "listener.errors",
    "SourceDisabled": "listener.errors",
    "SourceError": "listener.errors",
    "StoreError": "listener.errors",
    "Settings": "listener.settings",
    "load_settings": "listener.settings",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'listener' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
