"""Sources: where mentions come from. Each kind lives in its own module with a `build_source`.

`build_source(config, settings, environ)` returns an object satisfying `Source`, or raises
`SourceDisabled` (e.g. no credentials) with one line saying what to set. The kinds that are
feeds underneath (`FEED_KINDS`) also take `clients=`, the HTTP clients they share (one per host).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from listener.errors import SettingsError
from listener.settings import Settings, SourceSettings
from listener.sources.base import Source
from listener.sources.feed import HostClients

__all__ = ["FEED_KINDS", "SOURCE_MODULES", "Source", "build_source"]

SOURCE_MODULES: dict[str, str] = {
    "feed": "listener.sources.feed",
    "x": "listener.sources.x",
    "reddit": "listener.sources.social",
    "mastodon": "listener.sources.social",
    "hackernews": "listener.sources.social",
    "bluesky": "listener.sources.bluesky",
}
FEED_KINDS = frozenset({"feed", "reddit", "mastodon", "hackernews"})


def build_source(
    config: SourceSettings,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    feed_clients: HostClients | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Source:
    """The source object for one `[[sources]]` entry; a feed kind uses `feed_clients` if given,
    and a plain feed reads the time from `clock` (its entries may be dated relative to it)."""
    module_name = SOURCE_MODULES.get(config.kind)
    if module_name is None:
        raise SettingsError(f"sources.{config.name}.kind: {config.kind!r} is not supported")
    module = importlib.import_module(module_name)
    shared: dict[str, Any] = (
        {"clients": feed_clients} if config.kind in FEED_KINDS and feed_clients else {}
    )
    if config.kind == "feed" and clock is not None:
        shared["clock"] = clock
    source: Source = module.build_source(config, settings, environ, **shared)
    return source
