"""Every kind of settings mistake, as a user meets it: `listener poll -c bad.toml` exits 2 with
one clear line per mistake (the key, the bad value, what is expected) and never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BRANDS = '[[brands]]\nname = "O2"\nterms = ["O2"]\n'
FEED = '[[sources]]\nname = "blog"\nurl = "https://blog.example/feed"\n'

CASES: dict[str, tuple[str, list[str]]] = {
    "unknown section": ('[databse]\nurl = "sqlite:///x.db"\n' + BRANDS, ["databse: unknown key"]),
    "unknown key in a source": (
        BRANDS + FEED + 'feed_url = "https://x.example"\n',
        ["sources[0].feed_url: unknown key", "check its spelling"],
    ),
    "wrong type": ('[web]\nport = "eighty"\n' + BRANDS, ["web.port: 'eighty'", "integer"]),
    "number out of range": (
        "[service]\nmax_concurrent_polls = 0\n" + BRANDS,
        ["service.max_concurrent_polls: 0", "greater than or equal to 1"],
    ),
    "bad duration": (
        BRANDS + FEED + 'every = "5 minutes"\n',
        ["sources[0].every: '5 minutes'", "'30s', '5m', '2h' or '1d'"],
    ),
    "bad scoring worker count": (
        "[scoring]\nworkers = 99\n" + BRANDS,
        ['scoring.workers: 99 is not valid: expected "auto" or a number of worker processes'],
    ),
    "interval too short": (BRANDS + FEED + 'every = "100ms"\n', ["at least '1s'"]),
    "bad feed URL": (
        BRANDS + '[[sources]]\nname = "blog"\nurl = "htps://blog.example/feed"\n',
        ["sources[0].url: 'htps://blog.example/feed'", "http(s):// URL"],
    ),
    "feed URL whose host cannot be read": (
        BRANDS + '[[sources]]\nname = "blog"\nurl = "http://[::1/feed"\n',
        ["sources[0].url: 'http://[::1/feed'", "host and port can be read", "Invalid IPv6 URL"],
    ),
    "API URL with a port out of range": (
        BRANDS
        + '[[sources]]\nname = "sky"\nkind = "bluesky"\napi_url = "https://bsky.example:99999"\n',
        ["sources[0].api_url: 'https://bsky.example:99999'", "host and port can be read"],
    ),
    "desk address that is not http": (
        '[web]\nbase_url = "desk.example"\n' + BRANDS,
        ["web.base_url: 'desk.example'", "http:// or https:// URL"],
    ),
    "bad database URL": (
        '[database]\nurl = "mysql//nope"\n' + BRANDS,
        ["database.url: 'mysql//nope'", "postgresql+psycopg://"],
    ),
    "unknown source kind": (
        BRANDS + '[[sources]]\nname = "old"\nkind = "myspace"\n',
        ["sources[0].kind: 'myspace' is not a source kind", "'feed', 'x'"],
    ),
    "duplicate source names": (
        BRANDS + FEED + FEED,
        ["sources: the name 'blog' is used twice; names must be unique"],
    ),
    "brand that does not exist": (
        BRANDS + FEED + 'brands = ["Acme"]\n',
        ["sources[0].brands: 'Acme' is not a configured brand", "['O2']"],
    ),
    "required key missing": ('[[brands]]\nname = "O2"\n', ["brands[0].terms: missing"]),
    "no brands at all": ("", ["brands: missing"]),
    "invalid TOML": ('[[brands]]\nname = "O2\n', ["not valid TOML", "line 2"]),
}


def run_poll(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "300", **(env or {})}
    environment.pop("LISTENER_DATABASE_URL", None)
    environment.pop("LISTENER_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "listener", "poll", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(result: subprocess.CompletedProcess[str], expected: list[str]) -> str:
    message = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in expected:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("case", list(CASES))
def test_each_mistake_is_one_clear_line_and_exit_code_2(tmp_path: Path, case: str) -> None:
    content, expected = CASES[case]
    (tmp_path / "bad.toml").write_text(content, encoding="utf-8")
    message = assert_refused(run_poll(tmp_path, "-c", "bad.toml"), expected)
    if "TOML" not in case:
        assert "1 problem(s)" in message


def test_a_missing_settings_file_says_how_to_fix_it(tmp_path: Path) -> None:
    assert_refused(
        run_poll(tmp_path, "-c", "nowhere.toml"),
        ["settings file 'nowhere.toml' does not exist", "LISTENER_CONFIG"],
    )


def test_a_bad_value_from_the_environment_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text(BRANDS, encoding="utf-8")
    assert_refused(
        run_poll(tmp_path, "-c", "settings.toml", env={"LISTENER_WEB__PORT": "abc"}),
        ["environment variable LISTENER_WEB__PORT (web.port): 'abc' is not valid"],
    )


def test_all_mistakes_in_one_file_are_reported_together(tmp_path: Path) -> None:
    content = (
        '[databse]\nurl = "x"\n[web]\nport = "eighty"\n'
        + BRANDS
        + '[[sources]]\nname = "blog"\nurl = "https://b.example/f"\nevery = "soon"\n'
        + '[[sources]]\nname = "old"\nkind = "myspace"\n'
    )
    (tmp_path / "bad.toml").write_text(content, encoding="utf-8")
    message = assert_refused(
        run_poll(tmp_path, "-c", "bad.toml"),
        ["databse: unknown key", "web.port: 'eighty'", "sources[0].every: 'soon'", "'myspace'"],
    )
    assert "4 problem(s)" in message
