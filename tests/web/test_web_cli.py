"""`listener users ...`, `listener serve` and `listener run` as a person runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from listener.web.auth import Role
from tests.support.paths import REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings_file(tmp_path: Path, *, web_enabled: bool = True) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///listener.db"

[[brands]]
name = "O2"
terms = ["O2"]

[scoring]
model = "lexicon"

[outreach]
templates_dir = "{REPO / "templates"}"

[web]
port = {free_port()}
enabled = {str(web_enabled).lower()}
""",
        encoding="utf-8",
    )
    return path


def listener(
    config: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "LISTENER_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
    )


def test_users_add_reads_the_password_from_stdin_once_per_name_and_list_shows_no_hash(
    tmp_path: Path,
) -> None:
    config = settings_file(tmp_path)
    added = listener(config, "users", "add", "ann", "--role", "approver", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    assert "user ann added as approver" in added.stderr
    again = listener(config, "users", "add", "ann", stdin="a long password\n")
    assert again.returncode == 1 and "already a user named 'ann'" in again.stderr
    listed = listener(config, "users", "list")
    [ann] = json.loads(listed.stdout)
    assert ann == {
        "name": "ann",
        "role": "approver",
        "created_at": ann["created_at"],
        "disabled": False,
        "api_token": False,
    }
    assert "argon2" not in listed.stdout + listed.stderr


def test_users_add_refuses_an_unknown_role(tmp_path: Path) -> None:
    config = settings_file(tmp_path)
    bad_role = listener(config, "users", "add", "ann", "--role", "boss", stdin="a long password\n")
    assert bad_role.returncode == 1
    assert (
        "role 'boss' is unknown; expected one of viewer, approver, crisis, admin" in bad_role.stderr
    )


def test_a_token_is_printed_once_and_opens_the_api(tmp_path: Path) -> None:
    config = settings_file(tmp_path)
    listener(config, "users", "add", "vic", "--role", "viewer", stdin="a long password\n")
    created = listener(config, "users", "token", "vic")
    token = created.stdout.strip()
    assert created.returncode == 0 and token.startswith("lst_")
    assert json.loads(listener(config, "users", "list").stdout)[0]["api_token"] is True
    assert token not in (tmp_path / "listener.db").read_bytes().decode("latin-1")
    missing = listener(config, "users", "token", "nobody")
    assert missing.returncode == 1 and "there is no user named 'nobody'" in missing.stderr

    with _running(config, "serve") as url:
        response = httpx.get(url + "/api/queue", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json()["items"] == []


def test_listener_run_serves_the_desk_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = settings_file(tmp_path)
    with _running(config, "run") as url:
        assert httpx.get(url + "/login").status_code == 200


def test_listener_run_without_the_web_page_serves_nothing(tmp_path: Path) -> None:
    config = settings_file(tmp_path, web_enabled=False)
    port = int(re.findall(r"port = (\d+)", config.read_text())[0])
    process = _start(config, "run")
    try:
        _wait_for(process, re.compile(r"no enabled sources"))
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/login")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert "review desk on" not in err


def _start(config: Path, command: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "LISTENER_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "listener", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(process: subprocess.Popen[str], pattern: re.Pattern[str]) -> str:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if pattern.search(line):
            return line
    raise AssertionError("never printed " + pattern.pattern + ":\n" + "".join(seen))


class _running:
    """`listener <command>` until the block ends, then SIGTERM and a clean exit."""

    def __init__(self, config: Path, command: str) -> None:
        self.process = _start(config, command)

    def __enter__(self) -> str:
        try:
            line = _wait_for(self.process, re.compile(r"review desk on \S*http://127\.0\.0\.1:\d+"))
        except AssertionError:
            self.process.kill()
            self.process.communicate(timeout=30)
            raise
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found
        return found.group(0)

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err


def test_the_crisis_role_ranks_between_approver_and_admin() -> None:
    assert Role.CRISIS.allows(Role.APPROVER) and not Role.APPROVER.allows(Role.CRISIS)
    assert Role.ADMIN.allows(Role.CRISIS) and not Role.CRISIS.allows(Role.ADMIN)
