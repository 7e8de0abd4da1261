"""The README's five-minute tour, run as written: a tour command that stops working fails here.

The tour is the first ```bash block under "## A five-minute tour". Each line is one command,
run by bash in a copy of the demo (settings.toml, demo/, templates/) with `.venv/bin/listener`
standing for this interpreter's listener. `listener run` is started in the background where the
tour starts it, and the rest waits until its desk answers and its first poll is stored, as a
person opening a second terminal would. Lines starting `# browser:` need a person with a
browser: they are the only ones not run, and the README says so above the block.

Beside it: the README stays short and links every page in docs/, and the settings examples
in the README and docs/settings.md are valid settings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from listener.settings import load_settings
from tests.support.paths import REPO

README = REPO / "README.md"
BROWSER = "# browser:"
COMMAND_TIMEOUT = 90.0
PASSWORD = "tour-password-1"


def tour_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    _, found, rest = text.partition("\n## A five-minute tour\n")
    assert found, "README.md has no '## A five-minute tour' section"
    section = rest.split("\n## ", 1)[0]
    block = re.search(r"^```bash\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert block, "the five-minute tour has no ```bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def is_service(line: str) -> bool:
    return line.split("#", 1)[0].split() == [".venv/bin/listener", "run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines; topics belong in docs/"


def test_every_tour_line_is_a_command_or_a_marked_browser_step() -> None:
    lines = tour_lines()
    unmarked = [line for line in lines if line.startswith("#") and not line.startswith(BROWSER)]
    assert not unmarked, f"comment lines the tour test would skip silently: {unmarked}"
    commands = [line for line in lines if not line.startswith("#")]
    assert all(line.startswith(".venv/bin/listener ") for line in commands), commands
    assert sum(is_service(line) for line in commands) == 1, "the tour starts `listener run` once"
    assert any(line.startswith(BROWSER) for line in lines), "the tour opens the desk"


def test_every_docs_page_is_linked_from_the_readme_and_the_index() -> None:
    readme = README.read_text(encoding="utf-8")
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name != "README.md")
    assert pages
    assert not [p for p in pages if f"(docs/{p}" not in readme], "pages the README misses"
    assert not [p for p in pages if f"({p}" not in index], "pages docs/README.md misses"


@pytest.mark.parametrize("page", ["README.md", "docs/settings.md"])
def test_the_settings_examples_are_valid_settings(page: str, tmp_path: Path) -> None:
    text = (REPO / page).read_text(encoding="utf-8")
    examples = [
        block
        for block in re.findall(r"^```toml\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
        if "[[brands]]" in block
    ]
    assert examples, f"{page} has no complete settings example"
    for number, example in enumerate(examples):
        path = tmp_path / f"example-{number}.toml"
        path.write_text(example, encoding="utf-8")
        load_settings(path, environ={})  # raises SettingsError naming what is wrong


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """The clone's demo as a newcomer has it, with `.venv/bin/listener` for this interpreter."""
    shutil.copy2(REPO / "settings.toml", tmp_path / "settings.toml")
    for folder in ("demo", "templates"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shim = tmp_path / ".venv" / "bin" / "listener"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m listener "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return tmp_path


def wait_until_ready(
    service: subprocess.Popen[bytes], log: Path, cwd: Path, env: dict[str, str], port: int
) -> None:
    """The desk answers and every demo source has been polled once."""
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise AssertionError(
                f"`listener run` exited ({service.returncode}):\n{log.read_text()}"
            )
        try:
            desk_up = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
        except httpx.TransportError:
            desk_up = False
        if desk_up:
            sources = subprocess.run(
                [".venv/bin/listener", "sources", "--json"],
                cwd=cwd,
                env=env,
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=True,
            )
            if all(source["last_success"] for source in json.loads(sources.stdout)):
                return
        time.sleep(0.5)
    raise AssertionError(f"the desk or the first poll did not come up:\n{log.read_text()}")


@pytest.mark.timeout(600)
def test_the_five_minute_tour_runs_as_written(demo_copy: Path) -> None:
    port = free_port()
    env = {**os.environ, "COLUMNS": "200", "LISTENER_WEB__PORT": str(port)}
    for name in ("LISTENER_CONFIG", "LISTENER_DATABASE_URL"):
        env.pop(name, None)
    log = demo_copy / "run.log"
    service: subprocess.Popen[bytes] | None = None
    outputs: dict[str, str] = {}
    try:
        for line in tour_lines():
            if line.startswith("#"):
                continue  # a `# browser:` step, checked to be marked by the test above
            if is_service(line):
                with log.open("wb") as handle:
                    service = subprocess.Popen(
                        ["bash", "-c", f"exec {line}"],
                        cwd=demo_copy,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                wait_until_ready(service, log, demo_copy, env, port)
                continue
            done = subprocess.run(
                ["bash", "-c", line],
                cwd=demo_copy,
                env=env,
                input=f"{PASSWORD}\n{PASSWORD}\n",
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
            assert done.returncode == 0, (
                f"README tour command failed ({done.returncode}): {line}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
            outputs[line.split("#", 1)[0].strip()] = done.stdout
        assert service is not None
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=COMMAND_TIMEOUT) == 0, log.read_text()
    finally:
        if service is not None and service.poll() is None:
            service.kill()
            service.wait(timeout=10)

    # What the prose around the block promises: drafts to review and an incident open.
    queue = json.loads(outputs[".venv/bin/listener queue --json"])
    assert queue, "the tour's queue is empty"
    incidents = json.loads(outputs[".venv/bin/listener incidents --json"])
    assert any(incident["status"] == "open" for incident in incidents), incidents
