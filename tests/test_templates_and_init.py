"""Built-in templates need no setting, an override folder replaces single files, start-up
refuses bad templates before anything is written, and `listener init` starts a new folder."""

import json
from pathlib import Path

import pytest

from listener.app import make_listener
from listener.domain import Category, Mention, Score
from listener.errors import SettingsError
from listener.outreach.drafting import Drafter
from listener.outreach.templates import builtin_templates, search_path
from listener.settings import BrandSettings, OutreachSettings, load_settings
from tests.support.cli import run_listener

BRAND = BrandSettings(name="O2", terms=["O2"], support_url="https://o2.example/help")
PRAISE = Score(0.1, False, 0.0, Category.PRAISE, None)
COMPLAINT = Score(0.9, True, 0.3, Category.COMPLAINT, None)


def plan_text(drafter: Drafter, score: Score) -> str:
    plan = drafter.plan(Mention("x", "1", "hi", author="@ann", source_kind="x"), BRAND, score)
    assert plan is not None
    return plan.text


def test_the_built_in_templates_are_found_without_a_setting() -> None:
    assert OutreachSettings().templates_dir == ""
    drafter = Drafter(None, OutreachSettings(thank_praise=True))
    assert "O2" in plan_text(drafter, COMPLAINT)
    assert (builtin_templates() / "web" / "base.html").is_file()


def test_a_file_in_the_override_folder_replaces_only_its_namesake(tmp_path: Path) -> None:
    (tmp_path / "outreach").mkdir()
    (tmp_path / "outreach" / "praise.txt.j2").write_text("{{ c.brand }} says thanks!")
    drafter = Drafter(tmp_path, OutreachSettings(thank_praise=True))
    assert plan_text(drafter, PRAISE) == "O2 says thanks!"
    assert plan_text(drafter, COMPLAINT) == plan_text(Drafter(None, OutreachSettings()), COMPLAINT)
    # Any relative path resolves through the same search path, the override first.
    assert search_path(tmp_path, "web") == [tmp_path / "web", builtin_templates() / "web"]


def write_settings(folder: Path, outreach: str) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///listener.db"\n\n'
        '[[brands]]\nname = "O2"\nterms = ["O2"]\n\n'
        f"[outreach]\n{outreach}\n\n[scoring]\nworkers = 0\n\n[service]\nfetch_worker = false\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("outreach", "error"),
    [
        ('templates_dir = "missing"', "is not a folder"),
        ('templates_dir = "mine"', "cannot be rendered"),
    ],
)
def test_bad_templates_stop_start_up_before_a_database_is_created(
    tmp_path: Path, outreach: str, error: str
) -> None:
    (tmp_path / "mine" / "outreach").mkdir(parents=True)
    (tmp_path / "mine" / "outreach" / "complaint.txt.j2").write_text("{{ c.nope }}")
    settings = load_settings(write_settings(tmp_path, outreach), environ={})
    with pytest.raises(SettingsError, match=error):
        make_listener(settings, environ={})
    assert not (tmp_path / "listener.db").exists()


def test_init_writes_a_starter_that_polls_and_lists_an_empty_queue(tmp_path: Path) -> None:
    created = run_listener("init", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    text = (tmp_path / "settings.toml").read_text()
    assert "[[brands]]" in text and '# url = "https://' in text
    settings = load_settings(tmp_path / "settings.toml", environ={})
    assert settings.templates_override() is None and settings.sources == []
    polled = run_listener("poll", cwd=tmp_path)
    assert polled.returncode == 0 and "no sources configured" in polled.stderr
    queue = run_listener("queue", "--json", cwd=tmp_path)
    assert queue.returncode == 0, queue.stderr
    assert json.loads(queue.stdout) == []


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("mine")
    refused = run_listener("init", str(tmp_path), cwd=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert (tmp_path / "settings.toml").read_text() == "mine"
    assert run_listener("init", str(tmp_path), "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "settings.toml").read_text() != "mine"


def test_init_with_templates_copies_them_and_points_the_settings_at_them(tmp_path: Path) -> None:
    target = tmp_path / "new"
    assert run_listener("init", str(target), "--templates", cwd=tmp_path).returncode == 0
    copied = target / "templates" / "outreach" / "complaint.txt.j2"
    assert copied.read_text() == (builtin_templates() / "outreach/complaint.txt.j2").read_text()
    assert (target / "templates" / "web" / "base.html").is_file()
    settings = load_settings(target / "settings.toml", environ={})
    assert settings.templates_override() == target / "templates"
    again = run_listener("init", str(target), "--templates", cwd=tmp_path)
    assert again.returncode == 2 and "already exist" in again.stderr


def test_run_refuses_bad_templates_before_writing_anything(tmp_path: Path) -> None:
    write_settings(tmp_path, 'templates_dir = "missing"')
    refused = run_listener("run", cwd=tmp_path)
    assert refused.returncode == 2 and "is not a folder" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_run_refuses_a_statement_that_does_not_name_the_brand_as_it_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine" / "outreach").mkdir(parents=True)
    (tmp_path / "mine" / "outreach" / "statement.txt.j2").write_text("We are looking into it.")
    write_settings(tmp_path, 'templates_dir = "mine"')
    refused = run_listener("run", cwd=tmp_path)
    assert refused.returncode == 2
    assert "statement.txt.j2 does not name the brand" in refused.stderr
    assert not (tmp_path / "listener.db").exists()
