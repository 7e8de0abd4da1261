"""`listener incidents hold | release | cancel-held` and `show --json` as an operator runs them:
real subprocesses against a store seeded through the real pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.app import make_listener
from listener.clock import ReplayClock
from listener.domain import Mention
from listener.settings import load_settings
from tests.incidents.test_incident_cli import run
from tests.outreach.test_crisis_mode import LeakScorer, news
from tests.support.paths import REPO

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def post(n: int) -> Mention:
    return Mention(
        source="forum",
        external_id=f"f{n}",
        url=f"https://forum.example/t/{n}",
        text=f"O2 leaked my phone number, spam calls all day. data breach! ({n})",
        author=f"user{n}",
        published_at=T0 + timedelta(minutes=1),
        source_kind="feed",
    )


def test_hold_show_release_hold_again_and_cancel_held(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///listener.db"
[[brands]]
name = "O2"
terms = ["O2"]
[outreach]
templates_dir = "{REPO / "templates"}"
[incidents]
news_domains = ["technews.example"]
""",
        encoding="utf-8",
    )
    listener = make_listener(
        load_settings(config), scorer=LeakScorer(), clock=ReplayClock(T0), sources=[]
    )
    try:
        listener.pipeline.ingest([news(T0)])
        listener.pipeline.ingest([post(n) for n in range(3)])
        [incident] = listener.store.incidents.find()
    finally:
        listener.close()
    number = str(incident.id)

    shown = json.loads(run(config, "incidents", "show", number, "--json").stdout)
    assert shown["outreach_hold"] is None and shown["held_drafts"] == []

    held = run(config, "incidents", "hold", number, "--as", "cora", "--json")
    assert held.returncode == 0, held.stderr
    ids = json.loads(held.stdout)["draft_ids"]
    assert len(ids) == 3

    shown = json.loads(run(config, "incidents", "show", number, "--json").stdout)
    assert shown["outreach_hold"] == "on" and shown["outreach_held"] is True
    assert [h["id"] for h in shown["held_drafts"]] == ids
    first = shown["held_drafts"][0]
    assert first["author"] == "user0" and "O2" in first["text"]
    assert first["reason"].startswith(f"held: incident #{number} (")
    plain = run(config, "incidents", "show", number)
    text = plain.stdout + plain.stderr
    assert "Routine outreach for O2 is on hold." in text and "Held replies (3):" in text

    released = run(config, "incidents", "release", number, "--as", "cora")
    assert released.returncode == 0
    assert "3 reply(ies) back in the review queue" in released.stdout + released.stderr
    again = run(config, "incidents", "release", number, "--as", "cora")
    assert again.returncode == 1 and "holds no replies" in again.stderr + again.stdout

    assert run(config, "incidents", "hold", number, "--as", "cora").returncode == 0
    cancelled = run(
        config,
        "incidents",
        "cancel-held",
        number,
        "--as",
        "cora",
        "--reason",
        "statement",
        "--json",
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert sorted(json.loads(cancelled.stdout)["draft_ids"]) == sorted(ids)

    audit = json.loads(run(config, "audit", "--json", "--limit", "100").stdout)
    actions = [r["action"] for r in audit]
    assert actions.count("incident.outreach_held") == 2
    assert actions.count("incident.outreach_released") == 1
    assert actions.count("incident.held_cancelled") == 1
    assert {r["actor"] for r in audit if r["action"].startswith("incident.")} == {"cora"}
