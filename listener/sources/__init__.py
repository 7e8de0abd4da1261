"""Sources: where mentions come from. Each kind lives in its own module with a `build_source`.

`build_source(config, settings, environ)` returns an object satisfying `Source`, or raises
`SourceDisabled` (e.g. no credentials) with one line saying what to set. The kinds that are
feeds underneath (`FEED_KINDS`) also take `clients=`, the HTTP clients they share (one per host).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from listener.errors import SettingsError
from listener.sources.base import Source

if TYPE_CHECKING:  # the package's pure modules (health, leases) must not import HTTP clients
    from listener.clock import Clock
    from listener.settings import Settings, SourceSettings
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
    clock: Clock | None = None,
) -> Source:
    """The source object for one `[[sources]]` entry; a feed kind uses `feed_clients` if given.

    Sources read the time (when a mention was fetched, until when a rate limit holds) from
    `clock`, the listener's, so replays and tests control it as they do everything else.
    """
    module_name = SOURCE_MODULES.get(config.kind)
    if module_name is None:
        raise SettingsError(f"sources.{config.name}.kind: {config.kind!r} is not supported")
    module = importlib.import_module(module_name)
    shared = {"clients": feed_clients} if config.kind in FEED_KINDS and feed_clients else {}
    source: Source = module.build_source(config, settings, environ, clock=clock, **shared)
    return source
