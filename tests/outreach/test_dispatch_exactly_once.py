"""At most once in public, never dropped: a dispatcher killed mid-send and restarted, and two
dispatchers running at once, post each approved reply exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from listener.app import make_listener
from listener.domain import DraftStatus
from listener.outreach.dispatch import Dispatcher
from listener.settings import Settings, load_settings
from listener.store import Store
from tests.support.fakes.local_http import RecordedRequest, Reply
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import X_KEYS, UnhappyScorer, build_world, x_mention
from tests.support.paths import REPO


class SlowPostingX(XApiServer):
    """The fake X API, taking `post_delay` seconds to answer each POST /2/tweets."""

    post_delay = 0.05

    def respond(self, request: RecordedRequest) -> Reply:
        if request.endpoint == "post":
            time.sleep(self.post_delay)
        return super().respond(request)


@pytest.fixture
def slow_x() -> Iterator[SlowPostingX]:
    with SlowPostingX() as server:
        yield server


def _settings_file(tmp_path: Path, db_url: str, api_url: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[[brands]]
name = "O2"
terms = ["O2", "@O2"]

[scoring]
model = "lexicon"

[outreach]
templates_dir = "{REPO / "templates"}"

[x_publish]
api_url = "{api_url}"
timeout = "60s"

[web]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def _dispatch(config: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **X_KEYS, "LISTENER_CONFIG": str(config), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "listener", "dispatch", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_post(server: XApiServer, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.requests_to("post"):
            return
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"dispatch exited {process.returncode}: {out}\n{err}")
        time.sleep(0.05)
    raise AssertionError("dispatch never posted")


def test_a_dispatcher_killed_mid_send_never_posts_twice_and_drops_nothing(
    tmp_path: Path, db_url: str, slow_x: SlowPostingX
) -> None:
    config = _settings_file(tmp_path, db_url, slow_x.url)
    settings = load_settings(config, environ={})
    world = build_world(settings)
    first = x_mention(slow_x, slow_x.add_user("dana"), "@O2 no signal for days")
    second = x_mention(slow_x, slow_x.add_user("eli"), "@O2 no refund yet")
    drafts = world.ingest(first, second)
    world.approve(*drafts)
    world.listener.close()
    # The first POST hangs (the platform is slow); the process dies while it waits.
    slow_x.fail_next(Reply.json(201, {"data": {"id": "1"}}, delay=60), endpoint="post")

    killed = _dispatch(config)
    _wait_for_post(slow_x, killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)  # reaps it and closes its pipes
    store = Store.open(db_url)
    try:
        in_flight = [d for d in drafts if store.draft(d.id).status is DraftStatus.SENDING]
        assert len(in_flight) == 1  # claimed and committed before the POST went out
    finally:
        store.close()

    restarted = _dispatch(config, "--json")
    out, err = restarted.communicate(timeout=120)
    report = json.loads(out)

    assert restarted.returncode == 1, err  # a person must look at the interrupted one
    (stuck_id,) = in_flight
    assert list(report["recovered"]) == [str(stuck_id.id)]
    assert "may or may not have been posted on X" in report["recovered"][str(stuck_id.id)]
    posts = slow_x.requests_to("post")
    assert len(posts) == 2  # the interrupted one once, the other one once: nothing twice
    assert sorted(p.body["reply"]["in_reply_to_tweet_id"] for p in posts) == sorted(
        [first.external_id, second.external_id]
    )
    store = Store.open(db_url)
    try:
        stuck = store.draft(stuck_id.id)
        assert stuck.status is DraftStatus.FAILED and stuck.needs_check
        (other,) = [d for d in drafts if d.id != stuck_id.id]
        assert store.draft(other.id).status is DraftStatus.SENT
    finally:
        store.close()

    again = _dispatch(config, "--json")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and json.loads(out)["recovered"] == {}
    assert len(slow_x.requests_to("post")) == 2  # never resent automatically


def test_two_dispatchers_at_once_post_each_reply_exactly_once(
    make_settings_for_db: Settings, slow_x: SlowPostingX
) -> None:
    world = build_world(make_settings_for_db)
    mentions = [
        x_mention(slow_x, slow_x.add_user(f"user{i}"), f"@O2 outage report {i}") for i in range(8)
    ]
    drafts = world.ingest(*mentions)
    world.approve(*drafts)
    other_store = Store.open(make_settings_for_db.database_url)
    dispatchers = [
        Dispatcher(world.listener.settings, world.store, world.clock, environ=X_KEYS),
        Dispatcher(world.listener.settings, other_store, world.clock, environ=X_KEYS),
    ]
    start = threading.Barrier(2)
    reports = []
    errors: list[BaseException] = []

    def run(dispatcher: Dispatcher) -> None:
        try:
            start.wait()
            reports.append(dispatcher.run_once())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for dispatcher in dispatchers:
            dispatcher.close()
        other_store.close()

    assert errors == []
    replied_to = [p.body["reply"]["in_reply_to_tweet_id"] for p in slow_x.requests_to("post")]
    assert sorted(replied_to) == sorted(m.external_id for m in mentions)  # each exactly once
    assert all(d.status is DraftStatus.SENT for d in world.drafts())
    sent_by = [set(r.sent) for r in reports]
    assert sent_by[0].isdisjoint(sent_by[1]) and len(sent_by[0] | sent_by[1]) == 8
    world.listener.close()


@pytest.fixture
def make_settings_for_db(make_settings: object, db_url: str, slow_x: SlowPostingX) -> Settings:
    # Every reply here comes from one template: the echo check, which would send all but the
    # first back for rewording, is off (tests/outreach/test_crisis_mode.py tests it).
    return make_settings(  # type: ignore[operator,no-any-return]
        database={"url": db_url},
        x_publish={"api_url": slow_x.url, "timeout": "30s"},
        outreach={"echo_window": "0s"},
    )


def test_listener_built_for_a_test_uses_the_given_scorer(make_settings: object) -> None:
    """Guard for the tests above: the fake scorer drafts a reply for every mention."""
    listener = make_listener(
        make_settings(),  # type: ignore[operator]
        scorer=UnhappyScorer(),
        sources=[],
        environ={},
    )
    try:
        assert listener.pipeline.scorer.version == "test-unhappy"
    finally:
        listener.close()
