"""Acceptance: a data leak story replayed through `listener import --replay`, as a user runs it.

The scenario (tests/fixtures/scenarios/phone_leak.jsonl): ordinary traffic about three brands;
at 10:00 a tech-news site reports that O2 leaked customers' phone numbers; three accounts with
hundreds of thousands of followers share it; then a growing crowd complains. Alerts go to a real
local webhook (signature checked), a Slack-shaped endpoint and a real SMTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.support.http_server import LocalServer
from tests.support.outreach import SmtpServer
from tests.support.paths import REPO

SCENARIO = REPO / "tests" / "fixtures" / "scenarios" / "phone_leak.jsonl"
FIRST_POST = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "replay-secret"


def write_settings(
    tmp_path: Path, db_url: str, http_server: LocalServer, smtp: SmtpServer | None
) -> Path:
    mail = (
        f"""
[[alerts]]
name = "mail"
kind = "email"
to = ["crisis@example.test"]
sender = "listener@example.test"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
"""
        if smtp
        else ""
    )
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[[brands]]
name = "O2"
terms = ["O2", "@O2"]

[[brands]]
name = "Skyline Air"
terms = ["Skyline Air"]

[[brands]]
name = "Northwind Bank"
terms = ["Northwind Bank"]

[outreach]
templates_dir = "{REPO / "templates"}"

[incidents]
news_domains = ["technews.example"]

[web]
base_url = "https://desk.example"

[[alerts]]
name = "hook"
kind = "webhook"
url = "{http_server.url("/hook")}"
secret_env = "ALERT_SECRET"

[[alerts]]
name = "slack"
kind = "slack"
url = "{http_server.url("/slack")}"
{mail}
""",
        encoding="utf-8",
    )
    return path


def listener(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "LISTENER_CONFIG": str(config), "ALERT_SECRET": SECRET}
    result = subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=config.parent,
    )
    assert result.returncode == 0, f"stdout:{result.stdout}\nstderr:{result.stderr}"
    return result


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_a_leak_story_opens_one_incident_fast_and_alerts_every_channel_once(
    tmp_path: Path, db_url: str, http_server: LocalServer, smtp_server: SmtpServer
) -> None:
    http_server.route("/hook", status=200)
    http_server.route("/slack", body="ok")
    config = write_settings(tmp_path, db_url, http_server, smtp_server)

    listener("import", str(SCENARIO), "--replay", config=config)

    incidents = json_of(listener("incidents", "--json", config=config))
    assert [i["brand"] for i in incidents] == ["O2"], "calm brands must have no incident"
    [incident] = incidents
    opened = datetime.fromisoformat(incident["opened_at"])
    assert opened - FIRST_POST <= timedelta(minutes=15)
    assert incident["type"] == "privacy/data breach"
    assert datetime.fromisoformat(incident["first_mention_at"]) == FIRST_POST
    assert incident["mention_count"] > 150
    assert incident["top_authors"][0]["author"] == "techreporter_sam"
    assert "phone" in incident["summary"] and incident["status"] == "open"

    hooks = [r for r in http_server.requests if r.path == "/hook"]
    for request in hooks:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert verify(
            SECRET,
            headers[TIMESTAMP_HEADER.lower()],
            request.body,
            headers[SIGNATURE_HEADER.lower()],
        )
    bodies = [json.loads(r.body) for r in hooks]
    openings = [b for b in bodies if b["kind"] == "incident.opened"]
    assert len(openings) == 1
    opening = openings[0]
    assert opening["incident_id"] == incident["id"]
    assert opening["url"] == f"https://desk.example/incidents/{incident['id']}"
    # Stamped with simulated time, within minutes of the story.
    assert datetime.fromisoformat(opening["created_at"]) - FIRST_POST <= timedelta(minutes=15)
    assert all(b["kind"] == "incident.escalated" for b in bodies if b is not opening)
    assert len({b["alert_id"] for b in bodies}) == len(bodies), "never the same alert twice"

    slack = [json.loads(r.body)["text"] for r in http_server.requests if r.path == "/slack"]
    assert sum("New incident" in text for text in slack) == 1, slack
    mails = smtp_server.messages
    assert sum("New incident" in m["Subject"] for m in mails) == 1
    assert len(mails) == len(slack) == len(bodies)

    alerts = json_of(listener("alerts", "--json", config=config))
    assert {a["channel"] for a in alerts} == {"hook", "slack", "mail"}
    assert all(a["status"] == "sent" and a["incident_id"] == incident["id"] for a in alerts)
    assert all(a["sent_at"].startswith("2026-03-02") for a in alerts)


def test_backtest_reports_detection_and_sends_nothing(
    tmp_path: Path, http_server: LocalServer
) -> None:
    http_server.route("/hook")
    http_server.route("/slack")
    config = write_settings(tmp_path, "sqlite:///never-used.db", http_server, None)

    report = json_of(listener("backtest", str(SCENARIO), "--json", config=config))

    assert http_server.requests == []
    assert not (tmp_path / "never-used.db").exists()
    [row] = report["incidents"]
    assert row["labels"] == ["o2-phone-leak"]
    assert row["detection_delay_seconds"] <= 15 * 60
    assert row["mentions_before_detection"] >= 1
    assert report["calm"]["alerts_would_have_fired"] == 0
    assert report["missed_labels"] == []
