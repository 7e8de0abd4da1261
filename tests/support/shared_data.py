"""The one way a test reaches ../shared/: skip with a clear reason when it is not there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.paths import REPO

SHARED = Path(os.environ.get("LISTENER_SHARED_DIR", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path inside ../shared/, or skip the calling test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} is missing (it lives beside the repo)")
    return path
