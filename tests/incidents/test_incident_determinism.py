"""Incident detection gives the same result whatever PYTHONHASHSEED is.

Titles, top terms and summaries reach responders in alerts and on the desk, and a replay or a
backtest of the same file must print the same bytes on every run and every machine. Python
randomises the iteration order of sets of strings per process, so any tie between equally
frequent words (or authors, categories, sources) that is broken by that order shows up as a
different title from one run to the next. The scenario below is made of ties on purpose: one
story told fifteen times in the same words.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.incidents.model import IncidentProfile, Observation, summary, title
from listener.incidents.terms import MAX_TERMS, TermStats
from tests.support.http_server import LocalServer
from tests.support.paths import REPO

SEEDS = ("1", "2", "random")
STORY = "O2 leaked customer phone numbers, home addresses and passwords"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def write_scenario(path: Path) -> Path:
    """Calm chatter for an hour, then a news site and fourteen customers say the same thing."""
    lines: list[dict[str, Any]] = [
        {
            "source": "x",
            "source_kind": "x",
            "external_id": f"calm-{i}",
            "text": "O2 signal was fine on the train this morning",
            "author": f"person{i}",
            "author_followers": 100 + i,
            "published_at": (START + timedelta(minutes=2 * i)).isoformat(),
        }
        for i in range(30)
    ]
    lines.append(
        {
            "source": "feed",
            "source_kind": "news",
            "external_id": "news-1",
            "title": STORY,
            "text": STORY,
            "url": "https://technews.example/o2-leak",
            "author": "technews",
            "published_at": (START + timedelta(hours=1)).isoformat(),
        }
    )
    lines += [
        {
            "source": "x",
            "source_kind": "x",
            "external_id": f"crowd-{i}",
            "text": STORY,
            "author": f"customer{i}",
            # Two authors per follower count: ties among amplifiers too.
            "author_followers": 500 + 10 * (i // 2),
            "published_at": (START + timedelta(hours=1, minutes=1 + i)).isoformat(),
        }
        for i in range(14)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def write_settings(directory: Path, db_url: str, hook_url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "settings.toml"
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

[outreach]
templates_dir = "{REPO / "templates"}"

[incidents]
news_domains = ["technews.example"]

[web]
base_url = "https://desk.example"

[[alerts]]
name = "hook"
kind = "webhook"
url = "{hook_url}"
""",
        encoding="utf-8",
    )
    return path


def listener(*args: str, config: Path, seed: str) -> str:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "LISTENER_CONFIG": str(config),
        "PYTHONHASHSEED": seed,
    }
    result = subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=config.parent,
    )
    assert result.returncode == 0, f"stdout:{result.stdout}\nstderr:{result.stderr}"
    return result.stdout


def replay_outputs(
    scenario: Path, config: Path, seed: str, server: LocalServer, hook: str
) -> dict[str, Any]:
    """Everything a user sees of one replay: lists, incident pages, alert bodies, backtest."""
    listener("import", str(scenario), "--replay", config=config, seed=seed)
    listed = listener("incidents", "--json", config=config, seed=seed)
    shown = [
        listener("incidents", "show", str(i["id"]), "--json", config=config, seed=seed)
        for i in json.loads(listed)
    ]
    return {
        "incidents": listed,
        "shown": shown,
        "alerts": listener("alerts", "--json", config=config, seed=seed),
        "webhook bodies": [r.body for r in server.requests if r.path == hook],
        "backtest": listener("backtest", str(scenario), "--json", config=config, seed=seed),
    }


def test_a_replay_prints_the_same_bytes_whatever_the_hash_seed(
    tmp_path: Path, db_url: str, http_server: LocalServer
) -> None:
    scenario = write_scenario(tmp_path / "tied_story.jsonl")
    runs: dict[str, dict[str, Any]] = {}
    for n, seed in enumerate(SEEDS):
        hook = f"/hook-{n}"
        http_server.route(hook, status=200)
        # The first run on the fixture's database (SQLite, or PostgreSQL when configured), the
        # others on SQLite files: the same file must give the same result on either.
        url = db_url if n == 0 else f"sqlite:///{tmp_path / f'run-{n}' / 'listener.db'}"
        config = write_settings(tmp_path / f"run-{n}", url, http_server.url(hook))
        runs[seed] = replay_outputs(scenario, config, seed, http_server, hook)

    first = runs[SEEDS[0]]
    assert first["webhook bodies"], "the opening must have been alerted"
    for seed in SEEDS[1:]:
        for part, output in first.items():
            assert runs[seed][part] == output, f"{part} differs between seeds {SEEDS[0]} and {seed}"
    # Equally frequent words are ranked by name.
    [incident] = json.loads(first["incidents"])
    assert incident["title"] == "Data breach at O2: addresses, customer, home, leaked — in the news"
    assert "Themes: addresses, customer, home, leaked, numbers, passwords." in (incident["summary"])


# the same rules, in process --------------------------------------------------------------------


def profile_with(terms: Counter[str], authors: dict[str, int]) -> IncidentProfile:
    profile = IncidentProfile(
        brand="O2", first_at=START, last_at=START, mention_count=3, terms=terms, authors=authors
    )
    profile.sources.update({"x": 2, "feed": 2})
    return profile


def test_equally_frequent_terms_and_sources_are_ranked_by_name_whatever_the_insertion_order() -> (
    None
):
    words = ["phone", "leaked", "numbers", "customer", "addresses"]
    forward = profile_with(Counter({w: 3 for w in words}), {})
    backward = profile_with(Counter({w: 3 for w in reversed(words)}), {})

    assert (
        title(forward)
        == title(backward)
        == "Complaints at O2: addresses, customer, leaked, numbers"
    )
    assert summary(forward) == summary(backward)
    assert "from feed (2), x (2)." in summary(forward)
    assert forward.as_json() == backward.as_json()


def test_a_more_frequent_term_still_comes_first() -> None:
    profile = profile_with(Counter({"addresses": 1, "zebra": 5, "leaked": 3}), {})

    assert title(profile) == "Complaints at O2: zebra, leaked, addresses"


def observation(author: str, followers: int) -> Observation:
    return Observation(
        mention_id=1,
        brand="O2",
        at=START,
        source="x",
        source_kind="x",
        author=author,
        followers=followers,
        verified=False,
        news=False,
        url="",
        story_key="",
        title="",
        text="",
        category="other",
        dissatisfied=False,
        risk=0.0,
        words=frozenset(),
    )


def test_keeping_the_biggest_authors_breaks_follower_ties_by_name() -> None:
    names = [f"author{i:02d}" for i in range(61)]
    forward = profile_with(Counter(), {n: 100 for n in names})
    backward = profile_with(Counter(), {n: 100 for n in reversed(names)})

    # Past 60 authors the profile keeps the 40 biggest.
    forward.add(observation("zz-late", 100), 0.6)
    backward.add(observation("zz-late", 100), 0.6)

    assert forward.authors == backward.authors
    assert sorted(forward.authors) == names[:40]


def test_the_vocabulary_keeps_the_same_words_at_its_size_limit_whatever_the_order() -> None:
    words = [f"word{i:05d}" for i in range(MAX_TERMS + 10)]
    forward = TermStats(docs=1.0, df={w: 1.0 for w in words})
    backward = TermStats(docs=1.0, df={w: 1.0 for w in reversed(words)})

    assert json.dumps(forward.as_json()) == json.dumps(backward.as_json())
    assert sorted(forward.df) == words[:MAX_TERMS]
