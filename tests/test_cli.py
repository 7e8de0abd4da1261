"""The command line as a user runs it: real subprocesses, real files, JSON on stdout."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES, REPO

RSS = (FIXTURES / "feeds" / "complaints.rss").read_bytes()


def settings_file(tmp_path: Path, feed_url: str, every: str = "1m") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///listener.db"

[[brands]]
name = "O2"
terms = ["O2", "@O2"]
exclude = ["O2 arena"]

[[sources]]
name = "blog"
kind = "feed"
url = "{feed_url}"
every = "{every}"

[outreach]
templates_dir = "{REPO / "templates"}"

[web]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def listener(
    *args: str, config: Path | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if config is not None:
        env["LISTENER_CONFIG"] = str(config)
    result = subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
        )
    return result


@pytest.fixture
def config(tmp_path: Path, http_server: LocalServer) -> Path:
    http_server.serve_feed("/blog.xml", RSS, etag='"v1"')
    return settings_file(tmp_path, http_server.url("/blog.xml"))


def test_poll_then_queue_then_review(config: Path) -> None:
    first = listener("poll", config=config)
    assert "blog: 5 fetched, 4 about a brand, 4 new" in first.stderr
    second = listener("poll", "--source", "blog", config=config)
    assert "not modified" in second.stderr

    queue = json.loads(listener("queue", "--json", config=config).stdout)
    assert queue and {"id", "status", "mention_id", "text"} <= set(queue[0])
    assert all(d["status"] == "pending" for d in queue)
    first_id, second_id = queue[0]["id"], queue[1]["id"]

    edited = json.loads(
        listener(
            "queue",
            "edit",
            str(first_id),
            "--text",
            "Hi from O2, sorry! Reply STOP to opt out.",
            config=config,
        ).stdout
    )
    assert edited["text"].startswith("Hi from O2") and edited["status"] == "pending"
    anonymous = listener(
        "queue", "edit", str(first_id), "--text", "Sorry! Reply STOP.", config=config, check=False
    )
    assert anonymous.returncode == 1 and "must name the brand (O2)" in anonymous.stderr
    approved = json.loads(listener("queue", "approve", str(first_id), config=config).stdout)
    assert approved["status"] == "approved"
    rejected = json.loads(
        listener(
            "queue", "reject", str(second_id), "--reason", "not a customer", config=config
        ).stdout
    )
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "not a customer"

    again = listener("queue", "approve", str(first_id), config=config, check=False)
    assert (
        again.returncode == 1
        and "cannot approve" in again.stderr
        and "Traceback" not in again.stderr
    )
    missing = listener("queue", "reject", "999", "--reason", "x", config=config, check=False)
    assert missing.returncode == 1 and "no draft 999" in missing.stderr

    mentions = json.loads(listener("mentions", "--json", config=config).stdout)
    assert len(mentions) == 4
    assert {"dissatisfaction", "dissatisfied", "incident_risk", "category", "signals"} <= set(
        mentions[0]
    )


def test_reviewing_the_queue_never_loads_the_scoring_model(config: Path) -> None:
    listener("poll", config=config)
    env = {**os.environ, "LISTENER_CONFIG": str(config)}
    for command in (["queue", "--json"], ["mentions", "--json"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "listener", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert "listener.cli" in imported  # the import log is there to be read
        assert "sklearn" not in imported and "listener.scoring.model" not in imported, command


def test_bad_settings_stop_with_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[brands]]\nname = "O2"\nterms = ["O2"]\n[[sources]]\nname = "x"\nurl = "f.xml"\nevery = "often"\n'
    )
    result = listener("poll", config=bad, check=False)
    assert result.returncode == 2
    assert "sources[0].every: 'often' is not valid" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_reports_bad_lines_by_number_and_keeps_the_rest(
    tmp_path: Path, config: Path
) -> None:
    lines = [
        {
            "source": "import",
            "external_id": "1",
            "text": "still on hold with @O2 after 2 hours",
            "author": "@ann",
            "author_followers": 120,
            "published_at": "2026-03-06T09:41:00Z",
        },
        "this is not json",
        {"source": "import", "external_id": "2"},
        {
            "source": "import",
            "external_id": "3",
            "text": "O2 billing is a joke",
            "published_at": "yesterday",
        },
        {"source": "import", "external_id": "4", "text": "nothing to do with any brand"},
        {"source": "import", "external_id": "5", "text": "thanks @O2, great service today"},
    ]
    path = tmp_path / "mentions.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    result = listener("import", str(path), config=config)
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: missing required field 'text'" in result.stderr
    assert "line 4: published_at 'yesterday' is not an ISO 8601 time" in result.stderr
    assert "imported 3 line(s): 2 about a brand, 2 new" in result.stderr
    again = listener("import", str(path), config=config)
    assert "0 new, 2 already stored" in again.stderr
    mentions = json.loads(
        listener("mentions", "--json", "--source", "import", config=config).stdout
    )
    hold = next(m for m in mentions if m["external_id"] == "1")
    assert hold["author_followers"] == 120 and hold["published_at"].startswith("2026-03-06T09:41")


def test_import_reads_csv_too(tmp_path: Path, config: Path) -> None:
    path = tmp_path / "mentions.csv"
    path.write_text(
        'source,external_id,text,author\ncsv,a,"O2 charged me twice, again",@bob\ncsv,b,"too,many",values,here\n'
    )
    result = listener("import", str(path), config=config)
    assert "line 3: more values than columns" in result.stderr
    assert "1 new" in result.stderr


def test_score_a_text_and_a_jsonl_file_in_order(tmp_path: Path) -> None:
    one = json.loads(
        listener("score", "I keep getting spam texts from O2 and they won't stop").stdout
    )
    assert one["dissatisfied"] is True and one["category"] == "spam_complaint"
    assert {"dissatisfaction", "incident_risk", "signals"} <= set(one)
    path = tmp_path / "texts.jsonl"
    rows = [
        {"id": i, "text": t}
        for i, t in enumerate(
            ["thanks @X, great flight", "still on hold with @X after 2 hours", "{{ 7*7 }}", ""]
        )
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    out = [json.loads(line) for line in listener("score", "--jsonl", str(path)).stdout.splitlines()]
    assert [o.get("id") for o in out[:4]] == [0, 1, 2, 3]
    assert out[0]["dissatisfied"] is False and out[1]["dissatisfied"] is True
    assert out[4]["line"] == 5 and "error" in out[4]


def test_run_polls_on_schedule_and_stops_cleanly_on_sigterm(
    tmp_path: Path, http_server: LocalServer
) -> None:
    http_server.serve_feed("/blog.xml", RSS)
    config = settings_file(tmp_path, http_server.url("/blog.xml"), every="1s")
    process = subprocess.Popen(
        [sys.executable, "-m", "listener", "run"],
        env={**os.environ, "LISTENER_CONFIG": str(config), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while http_server.hits("/blog.xml") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert http_server.hits("/blog.xml") >= 2, "the scheduler did not poll again"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "writing to" in stderr and "blog: 5 fetched" in stderr
    assert "stopped cleanly" in stderr
