"""`listener incidents` and `listener alerts` as an operator runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from listener.app import make_listener
from listener.clock import ReplayClock
from listener.domain import Mention
from listener.settings import load_settings
from tests.support.paths import REPO

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LISTENER_CONFIG": str(config), "COLUMNS": "200"},
        timeout=120,
        cwd=config.parent,
    )


def test_list_acknowledge_and_refuse_a_bad_merge(tmp_path: Path) -> None:
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
[[alerts]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/never"
""",
        encoding="utf-8",
    )
    listener = make_listener(load_settings(config), clock=ReplayClock(T0), sources=[])
    try:
        listener.pipeline.ingest(
            [
                Mention(
                    source="technews",
                    external_id="1",
                    url="https://technews.example/o2",
                    title="O2 leaked the phone numbers of thousands of customers",
                    text="Customers' phone numbers were exposed in an O2 data breach.",
                    published_at=T0,
                    source_kind="feed",
                )
            ]
        )
    finally:
        listener.close()

    listed = run(config, "incidents", "--json")
    assert listed.returncode == 0, listed.stderr
    [incident] = json.loads(listed.stdout)
    assert {
        "id",
        "brand",
        "type",
        "severity",
        "status",
        "first_mention_at",
        "opened_at",
        "mention_count",
        "top_authors",
        "summary",
    } <= incident.keys()

    ack = run(config, "incidents", "ack", str(incident["id"]), "--as", "alice")
    assert ack.returncode == 0, ack.stderr
    again = run(config, "incidents", "ack", str(incident["id"]))
    assert again.returncode == 1 and "only an open incident" in again.stderr
    merge = run(config, "incidents", "merge", str(incident["id"]), str(incident["id"]))
    assert merge.returncode == 1 and "into itself" in merge.stderr
    missing = run(config, "incidents", "show", "99")
    assert missing.returncode == 1 and "no incident 99" in missing.stderr

    shown = json.loads(run(config, "incidents", "show", str(incident["id"]), "--json").stdout)
    assert shown["status"] == "acknowledged" and shown["acknowledged_by"] == "alice"
    assert [e["action"] for e in shown["timeline"]] == ["opened", "acknowledged"]

    # Not yet routed (nothing has dispatched): no deliveries. The receiver is unreachable,
    # so a dispatch pass keeps the alert pending for a retry.
    assert json.loads(run(config, "alerts", "--json").stdout) == []
    dispatched = run(config, "alerts", "dispatch")
    assert dispatched.returncode == 0, dispatched.stderr
    [alert] = json.loads(run(config, "alerts", "--json").stdout)
    assert alert["status"] == "pending" and alert["incident_id"] == incident["id"]
    assert {"id", "incident_id", "channel", "created_at", "sent_at", "status"} <= alert.keys()
