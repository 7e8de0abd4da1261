"""The operators' hooks inside one process: job rules, readiness, the metrics a Listener keeps
on its own registry (read from a real database), the JSON log format, the ops settings."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.errors import SettingsError
from listener.ops.health import JobRecord, JobTracker, SchedulerProbe, SingleFlight, job_problem
from listener.ops.logging import (
    JsonFormatter,
    RedactingFilter,
    ReopenableFileHandler,
    redact,
    reopen_log_files,
)
from listener.ops.metrics import SourceHealthCache
from listener.outreach.review import ReviewAction
from listener.settings import Settings, load_settings
from listener.sources.health import Health, HealthState
from listener.store import DraftFilter
from listener.web.routes_ops import create_ops_app
from listener.web.server import WebServer
from tests.support.fakes.x_api import XApiServer
from tests.support.http_server import LocalServer
from tests.support.outreach import World, x_mention

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://n.example/</link>
<item><title>O2 signal is gone again and support never calls back</title><guid>https://n.example/1</guid></item>
<item><title>O2 charged me twice this month, refund still missing</title><guid>https://n.example/2</guid></item>
</channel></rss>"""


# -- job rules ---------------------------------------------------------------------------------


def job(**changes: Any) -> JobRecord:
    record = JobRecord("alerts", timedelta(seconds=10), registered_at=NOW - timedelta(hours=1))
    for key, value in changes.items():
        setattr(record, key, value)
    return record


GRACE = timedelta(minutes=2)


def test_a_job_that_ran_recently_and_finished_is_on_time() -> None:
    done = job(started_at=NOW - timedelta(seconds=9), ended_at=NOW - timedelta(seconds=8))
    assert job_problem(done, NOW, GRACE) == ""


def test_a_job_running_longer_than_its_interval_and_the_grace_is_stuck() -> None:
    stuck = job(started_at=NOW - timedelta(minutes=3), ended_at=NOW - timedelta(minutes=4))
    assert "running for 180 s" in job_problem(stuck, NOW, GRACE)
    still_fine = job(started_at=NOW - timedelta(seconds=100), ended_at=None)
    assert job_problem(still_fine, NOW, GRACE) == ""


def test_a_job_that_has_not_started_for_too_long_is_reported() -> None:
    never = job()
    assert "has not started for 3600 s" in job_problem(never, NOW, GRACE)
    late = job(started_at=NOW - timedelta(minutes=5), ended_at=NOW - timedelta(minutes=5))
    assert "last started" in job_problem(late, NOW, GRACE)
    young = job(registered_at=NOW - timedelta(seconds=30))
    assert job_problem(young, NOW, GRACE) == ""


def test_the_tracker_records_runs_failures_and_successes() -> None:
    clock = ReplayClock(NOW)
    tracker = JobTracker(clock)
    tracker.register("dispatch", timedelta(seconds=30))

    def fail() -> None:
        raise RuntimeError("boom")

    assert tracker.track("dispatch", lambda: 7)() == 7
    with pytest.raises(RuntimeError):
        tracker.track("dispatch", fail)()
    [record] = tracker.snapshot()
    assert (record.runs, record.failures) == (2, 1)
    assert record.last_success_at == NOW and not record.running


def test_single_flight_shares_one_slow_call_and_gives_up_after_its_timeout() -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        release.wait(10)
        return 42

    flight = SingleFlight(slow, timeout=0.2)
    for _ in range(3):
        with pytest.raises(TimeoutError):
            flight.get()
    assert len(calls) == 1  # the later callers waited on the call already out
    release.set()
    deadline = time.monotonic() + 5
    while flight._running is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flight.get() == 42


# -- readiness and metrics of a real Listener ----------------------------------------------------


@pytest.fixture
def listener(
    make_settings: Callable[..., Settings], db_url: str, http_server: LocalServer
) -> Iterator[Listener]:
    http_server.serve_feed("/feed.xml", RSS, etag='"v1"')
    http_server.route("/broken.xml", status=500)
    settings = make_settings(
        database={"url": db_url},
        sources=[
            {"name": "news", "url": http_server.url("/feed.xml")},
            {"name": "broken", "url": http_server.url("/broken.xml")},
        ],
        ops={"scrape_cache": "0s"},
    )
    built = make_listener(settings, environ={}, clock=ReplayClock(NOW))
    yield built
    built.close()


def samples(built: Listener) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client import generate_latest

    text = generate_latest(built.ops.metrics.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_each_listener_counts_on_its_own_registry(
    listener: Listener, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    other = make_listener(
        make_settings(database={"url": f"sqlite:///{tmp_path / 'other.db'}"}), environ={}
    )
    try:
        listener.poll()
        mine, theirs = samples(listener), samples(other)
    finally:
        other.close()
    assert mine[("listener_polls_total", frozenset({("source", "news"), ("outcome", "ok")}))] == 1
    assert (
        mine[("listener_polls_total", frozenset({("source", "broken"), ("outcome", "failed")}))]
        == 1
    )
    assert not any(name == "listener_polls_total" and v for (name, _), v in theirs.items())


def test_queue_incident_and_outbox_gauges_come_from_the_database(listener: Listener) -> None:
    listener.poll("news")
    pending = listener.store.drafts(DraftFilter(status="pending"))
    assert pending
    approved_at = NOW - timedelta(minutes=7)
    listener.store.review(pending[0].id, ReviewAction.APPROVE, actor="ann", at=approved_at)
    got = samples(listener)
    assert got[("listener_queue_drafts", frozenset({("status", "pending")}))] == len(pending) - 1
    assert got[("listener_queue_drafts", frozenset({("status", "approved")}))] == 1
    assert got[("listener_outbox_oldest_age_seconds", frozenset({("kind", "reply")}))] == 420
    assert got[("listener_database_up", frozenset())] == 1
    assert got[("listener_incidents_open", frozenset({("severity", "critical")}))] == 0
    assert (
        got[("listener_source_health", frozenset({("source", "news"), ("state", "healthy")}))] == 1
    )
    # No label anywhere carries a mention's words.
    assert not any("signal" in v for (_, labels), _ in got.items() for _, v in labels)


def test_readyz_reports_each_check_and_a_stopping_scheduler(listener: Listener) -> None:
    checks = listener.ops.checks
    readiness = checks.readiness()
    assert readiness.ready, readiness.as_dict()
    assert [c.name for c in readiness.checks] == ["database", "scheduler", "jobs"]

    stopping = threading.Event()
    checks.attach_scheduler(SchedulerProbe(running=lambda: True, stopping=stopping.is_set))
    checks.jobs.register("alerts", timedelta(seconds=10))
    assert checks.readiness().ready
    stopping.set()
    body = checks.readiness().as_dict()
    assert body["status"] == "not ready"
    assert {"name": "scheduler", "status": "failing", "detail": "stopping: finishing running polls"} in body["checks"]  # fmt: skip


def test_a_deleted_sqlite_file_makes_the_listener_unready(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database = tmp_path / "gone.db"
    built = make_listener(make_settings(database={"url": f"sqlite:///{database}"}), environ={})
    try:
        assert built.ops.checks.readiness().ready
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        readiness = built.ops.checks.readiness()
        assert not readiness.ready
        [database_check] = [c for c in readiness.checks if c.name == "database"]
        assert str(tmp_path) not in database_check.detail
    finally:
        built.close()


def test_the_ops_app_serves_metrics_behind_its_token(
    make_settings: Callable[..., Settings],
) -> None:
    built = make_listener(make_settings(ops={"metrics_token": "t0ken"}), environ={})
    try:
        with WebServer(built, port=0, app=create_ops_app(built), setting="ops") as server:
            assert httpx.get(f"{server.url}/metrics").status_code == 401
            wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            right = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer t0ken"})
            assert right.status_code == 200 and "listener_polls" in right.text
            openmetrics = httpx.get(
                f"{server.url}/metrics",
                headers={
                    "Authorization": "Bearer t0ken",
                    "Accept": "application/openmetrics-text; version=1.0.0",
                },
            )
            assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
            assert openmetrics.text.rstrip().endswith("# EOF")
            assert httpx.get(f"{server.url}/healthz").json()["status"] == "alive"
            assert "t0ken" not in httpx.get(f"{server.url}/readyz").text
    finally:
        built.close()


# -- logs ----------------------------------------------------------------------------------------


def test_json_log_lines_carry_time_level_logger_message_and_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("listener.test_ops")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("source %s failed", "news", extra={"source": "news", "draft_id": 7})
        try:
            raise ValueError("bad bytes")
        except ValueError:
            logger.exception("crashed", extra={"brand": "O2"})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "warning" and first["logger"] == "listener.test_ops"
    assert first["message"] == "source news failed"
    assert (first["source"], first["draft_id"]) == ("news", 7)
    assert datetime.fromisoformat(first["time"].replace("Z", "+00:00")).tzinfo is not None
    assert first["time"].endswith("Z")
    assert second["brand"] == "O2" and "ValueError: bad bytes" in second["exception"]


def test_a_reopenable_log_file_starts_a_new_file_after_it_was_moved(tmp_path: Path) -> None:
    path = tmp_path / "listener.log"
    handler = ReopenableFileHandler(str(path))
    logger = logging.getLogger("listener.test_reopen")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before")
        path.rename(tmp_path / "listener.log.1")
        assert reopen_log_files(logger) == 1
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()
    assert path.read_text().strip() == "after"
    assert (tmp_path / "listener.log.1").read_text().strip() == "before"


# -- settings --------------------------------------------------------------------------------------


def test_ops_and_logging_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[[brands]]\nname = "O2"\nterms = ["O2"]\n[ops]\nport = 9100\n[logging]\nformat = "json"\n'
    )
    settings = load_settings(config, environ={"LISTENER_OPS__METRICS_TOKEN": "s3cret"})
    assert settings.ops.port == 9100 and settings.ops.metrics_token == "s3cret"
    assert settings.logging.format == "json" and settings.logging.level == "info"
    config.write_text('[[brands]]\nname = "O2"\nterms = ["O2"]\n[logging]\nformat = "xml"\n')
    with pytest.raises(SettingsError, match=r"logging\.format"):
        load_settings(config, environ={})


def test_url_passwords_never_reach_the_log() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("listener.test_redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("poll: %s answered HTTP 500", "https://bob:s3cr3t@feeds.example/a.xml")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["message"] == "poll: https://bob:***@feeds.example/a.xml answered HTTP 500"
    assert redact("http://plain.example/feed?page=2") == "http://plain.example/feed?page=2"


def test_source_health_comes_from_the_job_when_fresh_and_is_judged_otherwise() -> None:
    calls: list[int] = []
    broken = [("news", Health(HealthState.UNHEALTHY, "3 failed polls"))]

    def judge() -> list[tuple[str, Health]]:
        calls.append(1)
        return [("news", Health(HealthState.HEALTHY))]

    uncached = SourceHealthCache(judge, observed_for=timedelta(minutes=2), judged_for=timedelta(0))
    assert uncached.get()[0][1].state is HealthState.HEALTHY
    assert uncached.get() and len(calls) == 2  # nothing kept: judged at every scrape
    uncached.observed(broken)
    assert uncached.get() == broken and len(calls) == 2  # the job's judgement, no query

    cached = SourceHealthCache(judge, observed_for=timedelta(0), judged_for=timedelta(minutes=1))
    cached.get()
    cached.get()
    assert len(calls) == 3


def test_alert_deliveries_are_counted_by_channel_and_outcome(
    make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/broken.xml", status=500)
    http_server.route("/hook-ok", status=200)
    http_server.route("/hook-down", status=503)
    settings = make_settings(
        sources=[{"name": "broken", "url": http_server.url("/broken.xml")}],
        alerts=[
            {"name": "hook-ok", "kind": "webhook", "url": http_server.url("/hook-ok")},
            {"name": "hook-down", "kind": "webhook", "url": http_server.url("/hook-down")},
        ],
        ops={"scrape_cache": "0s"},
    )
    clock = ReplayClock(NOW)
    built = make_listener(settings, environ={}, clock=clock)
    jobs = {job.id: job for job in built.jobs}
    try:
        for _ in range(settings.service.unhealthy_after_failures):
            built.poll("broken")
        jobs["sources.health"].run()  # queues an operator alert: the source is unhealthy
        clock.advance_to(NOW + timedelta(seconds=30))
        waiting = samples(built)
        jobs["alerts"].run()
        got = samples(built)
    finally:
        built.close()

    def deliveries(channel: str, outcome: str) -> float:
        labels = {("kind", "alert"), ("channel", channel), ("outcome", outcome)}
        return got[("listener_deliveries_total", frozenset(labels))]

    assert waiting[("listener_outbox_oldest_age_seconds", frozenset({("kind", "alert")}))] == 30
    assert deliveries("hook-ok", "sent") == 1
    assert deliveries("hook-down", "retry") == 1
    assert deliveries("hook-down", "sent") == 0
    unhealthy = frozenset({("source", "broken"), ("state", "unhealthy")})
    assert got[("listener_source_health", unhealthy)] == 1


def test_reply_deliveries_and_the_age_of_the_oldest_approved_reply(
    make_settings: Callable[..., Settings],
    world_factory: Callable[..., World],
    x_api: XApiServer,
) -> None:
    world = world_factory(
        make_settings(x_publish={"api_url": x_api.url, "timeout": "5s"}, ops={"scrape_cache": "0s"})
    )
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("dana"), "@O2 no signal, useless"))
    world.approve(draft)
    world.advance(seconds=90)
    waiting = samples(world.listener)
    [dispatch] = [job for job in world.listener.jobs if job.id == "dispatch"]
    dispatch.run()
    sent = samples(world.listener)

    age = ("listener_outbox_oldest_age_seconds", frozenset({("kind", "reply")}))
    assert waiting[age] == 90 and sent[age] == 0
    labels = frozenset({("kind", "reply"), ("channel", "x"), ("outcome", "sent")})
    assert (waiting[("listener_deliveries_total", labels)], sent[("listener_deliveries_total", labels)]) == (0, 1)  # fmt: skip
    assert sent[("listener_queue_drafts", frozenset({("status", "approved")}))] == 0
