"""Sources: where mentions come from. Each kind lives in its own module with a `build_source`.

`build_source(config, settings, environ)` returns an object satisfying `Source`, or raises
`SourceDisabled` (e.g. no credentials) with one line saying what to set.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from listener.errors import SettingsError
from listener.settings import Settings, SourceSettings
from listener.sources.base import Source

__all__ = ["SOURCE_MODULES", "Source", "build_source"]

SOURCE_MODULES: dict[str, str] = {
    "feed": "listener.sources.feed",
    "x": "listener.sources.x",
    "reddit": "listener.sources.social",
    "mastodon": "listener.sources.social",
    "hackernews": "listener.sources.social",
    "bluesky": "listener.sources.bluesky",
}


def build_source(config: SourceSettings, settings: Settings, environ: Mapping[str, str]) -> Source:
    """The source object for one `[[sources]]` entry."""
    module_name = SOURCE_MODULES.get(config.kind)
    if module_name is None:
        raise SettingsError(f"sources.{config.name}.kind: {config.kind!r} is not supported")
    module = importlib.import_module(module_name)
    source: Source = module.build_source(config, settings, environ)
    return source
