"""`listener run` as real processes, for the multi-instance and crash tests.

Output goes to a file per process (a pipe nobody reads would fill up and stall the service).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

REPO = REPO


def write_settings(
    path: Path,
    *,
    database_url: str,
    feeds: Sequence[tuple[str, str]],
    every: str = "2s",
    lease: str = "3s",
    timeout: str = "5s",
    extra: str = "",
    ops_endpoints: bool = False,
) -> Path:
    """Settings for a `listener run` in a test. Without `ops_endpoints` (or an `[ops]` table
    in `extra`) the health and metrics endpoints are off: several instances run side by side
    on this host, and with the desk off each would take the desk's port for them."""
    lines = [
        "[database]",
        f"url = {json.dumps(database_url)}",
        "[service]",
        f"lease = {json.dumps(lease)}",
        "[web]",
        "enabled = false",
        "[outreach]",
        f"templates_dir = {json.dumps(str(REPO / 'templates'))}",
        "[[brands]]",
        'name = "O2"',
        'terms = ["O2"]',
        "[[brands]]",
        'name = "Skyline Air"',
        'terms = ["Skyline Air"]',
    ]
    for name, url in feeds:
        lines += [
            "[[sources]]",
            f"name = {json.dumps(name)}",
            f"url = {json.dumps(url)}",
            f"every = {json.dumps(every)}",
            f"timeout = {json.dumps(timeout)}",
        ]
    if not ops_endpoints and "[ops]" not in extra:
        lines += ["[ops]", "enabled = false"]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"listener exited early ({self.process.returncode}):\n{self.output}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{text!r} did not appear within {timeout}s:\n{self.output}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_service(
    config: Path, log: Path, *, instance: str = "", args: Sequence[str] = ("run",)
) -> ServiceProcess:
    env = {**os.environ, "COLUMNS": "200", "LISTENER_CONFIG": str(config)}
    env.pop("LISTENER_DATABASE_URL", None)
    if instance:
        env["LISTENER_SERVICE__INSTANCE"] = instance
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "listener", *args],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    handle.close()
    return ServiceProcess(process, log)


def stop_all(processes: Sequence[ServiceProcess]) -> None:
    for service in processes:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGKILL)
            service.process.wait(timeout=10)
