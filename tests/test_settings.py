"""Settings: the bundled file loads; environment overrides; every mistake names key and fix."""

from pathlib import Path

import pytest

from listener.errors import SettingsError
from listener.settings import load_settings, parse_duration
from tests.support.paths import REPO


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """
[[brands]]
name = "O2"
terms = ["O2"]

[[sources]]
name = "tech-news"
kind = "feed"
url = "feed.xml"
every = "5m"
"""


def test_the_bundled_demo_settings_load() -> None:
    settings = load_settings(REPO / "settings.toml", environ={})
    assert [b.name for b in settings.brands] == ["Nimbus Mobile", "Skyline Air"]
    assert all(s.kind == "feed" for s in settings.sources)
    assert settings.database_url.startswith("sqlite:////")
    assert settings.database_url.endswith("/listener.db")


def test_relative_sqlite_paths_resolve_next_to_the_settings_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'listener.db'}"
    assert settings.resolve_path("feed.xml") == tmp_path / "feed.xml"


def test_environment_overrides_the_database_and_section_keys(tmp_path: Path) -> None:
    env = {
        "LISTENER_DATABASE_URL": "postgresql+psycopg://u@db:5432/x",
        "LISTENER_WEB__PORT": "9001",
    }
    settings = load_settings(write(tmp_path, MINIMAL), environ=env)
    assert settings.database_url == "postgresql+psycopg://u@db:5432/x"
    assert settings.web.port == 9001


def test_listener_config_chooses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    settings = load_settings(None, environ={"LISTENER_CONFIG": str(path)})
    assert settings.sources[0].name == "tech-news"


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"does not exist.*LISTENER_CONFIG"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[[brands]\nname="), environ={})


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('every = "soon"', r"sources\[0\]\.every: 'soon' is not valid: expected a duration"),
        ('kind = "rss"', r"sources\[0\]\.kind: 'rss' is not a source kind"),
        ("colour = 3", r"sources\[0\]\.colour: unknown key"),
        ('brands = ["Nope"]', r"'Nope' is not a configured brand"),
        ("max_bytes = -1", r"sources\[0\]\.max_bytes: -1 is not valid"),
    ],
)
def test_each_source_mistake_names_the_key_the_value_and_the_expectation(
    tmp_path: Path, fragment: str, expected: str
) -> None:
    body = MINIMAL.replace('every = "5m"', fragment)
    if "kind" in fragment:
        body = MINIMAL.replace('kind = "feed"', fragment)
    elif "every" not in fragment:
        body = MINIMAL + fragment + "\n"
    with pytest.raises(SettingsError, match=expected):
        load_settings(write(tmp_path, body), environ={})


def test_all_mistakes_are_reported_together(tmp_path: Path) -> None:
    body = MINIMAL.replace('every = "5m"', 'every = "x"') + '\n[database]\nurl = "nope"\n'
    with pytest.raises(SettingsError) as error:
        load_settings(write(tmp_path, body), environ={})
    message = str(error.value)
    assert "2 problem(s)" in message
    assert "database.url: 'nope'" in message and "sources[0].every: 'x'" in message


def test_brands_are_required(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="brands: missing"):
        load_settings(write(tmp_path, "[database]\n"), environ={})


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    body = MINIMAL + MINIMAL.split("[[brands]]")[0] + MINIMAL[MINIMAL.index("[[sources]]") :]
    with pytest.raises(SettingsError, match="'tech-news' is used twice"):
        load_settings(write(tmp_path, body), environ={})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), (90, 90)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
