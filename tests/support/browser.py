"""Debian's chromium through Playwright, or a clear skip (a failure in CI) when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (
        f"browser tests need Debian's chromium at {CHROMIUM} "
        "(apt-get update && apt-get install -y chromium)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Headless Debian chromium; skips (or fails in CI) when it is not installed."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
