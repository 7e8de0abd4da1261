"""A person reads one line that says what went wrong and where: an unreachable database, a
bad environment override, and `--help` without type noise on flags."""

import re
import socket
from pathlib import Path

import pytest

from listener.errors import SettingsError, StoreError
from listener.settings import load_settings
from listener.store import Store
from tests.support.cli import run_listener


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_file(folder: Path) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///listener.db"\n\n[[brands]]\nname = "O2"\nterms = ["O2"]\n'
    )
    return path


def test_an_unreachable_database_is_one_line_naming_host_port_and_step() -> None:
    port = closed_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/listener"
    with pytest.raises(StoreError) as opening:
        Store.open(url)
    message = str(opening.value)
    assert f"127.0.0.1:{port}" in message and "migrating" in message
    assert "\n" not in message and "sqlalche.me" not in message
    store = Store.open(url, run_migrations=False)
    try:
        with pytest.raises(StoreError) as reading, store._read():
            pass
    finally:
        store.close()
    assert f"127.0.0.1:{port}" in str(reading.value) and "while reading" in str(reading.value)
    assert "\n" not in str(reading.value)


def test_a_read_only_command_with_the_database_down_prints_one_line(tmp_path: Path) -> None:
    settings_file(tmp_path)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/listener"
    result = run_listener("queue", "--json", cwd=tmp_path, LISTENER_DATABASE_URL=url)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot reach the database at 127.0.0.1:")


def test_a_bad_environment_override_names_the_variable_not_the_file(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={"LISTENER_WEB__PORT": "notaport"})
    message = str(caught.value)
    assert message.startswith("environment variable LISTENER_WEB__PORT (web.port): 'notaport'")
    assert str(path) not in message and "\n" not in message
    # A mistake in the file is still blamed on the file.
    path.write_text(path.read_text() + "\n[web]\nport = 'x'\n")
    with pytest.raises(SettingsError, match=re.escape(str(path))):
        load_settings(path, environ={})


def test_help_shows_no_type_on_flags(tmp_path: Path) -> None:
    for command in ([], ["poll"], ["queue"], ["init"]):
        shown = run_listener(*command, "--help", cwd=tmp_path)
        assert shown.returncode == 0
        assert "<bool>" not in shown.stdout and "--help" in shown.stdout
    assert "<path>" in run_listener("poll", "--help", cwd=tmp_path).stdout  # values keep theirs
