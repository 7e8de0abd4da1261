"""`listener poll --source NAME` against a local X-shaped server, as an operator runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.fakes.x_api import BEARER_TOKEN, XApiServer
from tests.support.paths import REPO


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_poll_stores_x_mentions_with_reach_and_engagement_once(
    tmp_path: Path, x_api: XApiServer
) -> None:
    dana = x_api.add_user("dana_tech", followers=120_000, verified=True)
    quiet = x_api.add_user("no_metrics", followers=None)
    x_api.add_tweet(
        "@O2 still on hold after 2 hours, this is a joke",
        author=dana,
        likes=40,
        retweets=12,
        replies=5,
        quotes=2,
    )
    x_api.add_tweet("O2 is sending my phone number to every website I visit", author=quiet)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[[brands]]\nname = "O2"\nterms = ["O2", "@O2"]\n'
        f'[[sources]]\nname = "x-o2"\nkind = "x"\napi_url = "{x_api.url}"\nevery = "1m"\n'
        f'[outreach]\ntemplates_dir = "{REPO / "templates"}"\n'
    )
    env = {**os.environ, "LISTENER_CONFIG": str(config), "LISTENER_X_BEARER_TOKEN": BEARER_TOKEN}

    first = run("poll", "--source", "x-o2", env=env)
    assert first.returncode == 0, first.stderr
    assert "2 new" in first.stderr
    mentions = {m["author"]: m for m in json.loads(run("mentions", "--json", env=env).stdout)}
    loud = mentions["@dana_tech"]
    assert loud["author_followers"] == 120_000 and loud["author_verified"] is True
    assert loud["engagement"]["likes"] == 40 and loud["engagement"]["reposts"] == 12
    assert loud["source_kind"] == "x" and loud["url"].startswith("https://x.com/dana_tech/status/")
    assert mentions["@no_metrics"]["author_followers"] is None

    drafts = json.loads(run("queue", "--json", env=env).stdout)
    assert any(d["channel"] == "x" and d["text"].startswith("@dana_tech") for d in drafts)

    second = run("poll", "--source", "x-o2", env=env)
    assert second.returncode == 0 and "0 new" in second.stderr
    assert x_api.requests_to("search")[-1].params.get("since_id")
    assert len(json.loads(run("mentions", "--json", env=env).stdout)) == 2


def test_without_a_token_the_x_source_is_disabled_and_the_rest_runs(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[[brands]]\nname = "O2"\nterms = ["O2"]\n'
        f'[[sources]]\nname = "x-o2"\nkind = "x"\n'
        f'[[sources]]\nname = "local"\nurl = "{REPO / "tests/fixtures/feeds/complaints.rss"}"\n'
        f'[outreach]\ntemplates_dir = "{REPO / "templates"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "LISTENER_X_BEARER_TOKEN"}
    result = run("poll", env={**env, "LISTENER_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "x-o2: skipped" in result.stderr and "LISTENER_X_BEARER_TOKEN" in result.stderr
    assert "local: 5 fetched" in result.stderr
