"""Running the `listener` command as a user would: a real subprocess in a folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_listener(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`listener ARGS` in `cwd`, with no LISTENER_* variables from the test run's own
    environment (only those in `env`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "COLUMNS": "200", **env},
        timeout=120,
    )
