"""Running the `listener` command as a user would: a real subprocess in a folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_listener(
    *args: str, cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`listener ARGS` in `cwd`, with no LISTENER_* variables from the test run's own
    environment (only those in `env`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "COLUMNS": "200", **env},
        timeout=timeout,
    )


def listener_cli(
    config: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`listener ARGS` with the settings file `config` (as LISTENER_CONFIG), run in its folder."""
    return run_listener(*args, cwd=config.parent, timeout=timeout, LISTENER_CONFIG=str(config))
