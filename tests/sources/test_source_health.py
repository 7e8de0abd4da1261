"""Source health: failures, silence and lost credentials are visible, not silent."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.sources.health import HealthState, assess
from tests.support.http_server import LocalServer
from tests.support.paths import FIXTURES, REPO

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


def judge(**changes):
    base = dict(
        now=NOW,
        every=timedelta(minutes=5),
        consecutive_failures=0,
        last_error="",
        last_success_at=NOW - timedelta(minutes=5),
        last_polled_at=NOW - timedelta(minutes=5),
        retry_at=None,
        disabled_reason="",
        mentions_total=10,
        mentions_24h=3,
        failures_threshold=3,
    )
    return assess(**{**base, **changes})


def test_a_source_that_works_is_healthy() -> None:
    assert judge().state is HealthState.HEALTHY


def test_repeated_failures_make_it_unhealthy_with_the_last_error() -> None:
    health = judge(consecutive_failures=3, last_error="HTTP 500")
    assert health.state is HealthState.UNHEALTHY and "HTTP 500" in health.reason
    assert judge(consecutive_failures=2, last_error="HTTP 500").state is HealthState.HEALTHY


def test_missing_credentials_show_as_disabled() -> None:
    health = judge(disabled_reason="set LISTENER_X_BEARER_TOKEN")
    assert health.state is HealthState.DISABLED and health.needs_attention


def test_a_busy_source_gone_quiet_is_flagged() -> None:
    assert judge(mentions_total=500, mentions_24h=0).state is HealthState.UNHEALTHY
    assert judge(mentions_total=3, mentions_24h=0).state is HealthState.HEALTHY


def test_no_success_for_far_longer_than_usual_is_flagged() -> None:
    health = judge(last_success_at=NOW - timedelta(days=3))
    assert health.state is HealthState.UNHEALTHY and "no successful poll since" in health.reason


def test_rate_limited_is_its_own_state() -> None:
    assert judge(retry_at=NOW + timedelta(minutes=10)).state is HealthState.RATE_LIMITED


def test_listener_sources_json_reports_each_source(
    tmp_path: Path, http_server: LocalServer
) -> None:
    http_server.route("/down.xml", status=503)
    repo = REPO
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[[brands]]\nname = "O2"\nterms = ["O2"]\n'
        f'[[sources]]\nname = "down"\nurl = "{http_server.url("/down.xml")}"\n'
        f'[[sources]]\nname = "x-search"\nkind = "x"\n'
        f"[service]\nunhealthy_after_failures = 2\n"
        f'[outreach]\ntemplates_dir = "{repo / "templates"}"\n'
    )
    env = {"PATH": "/usr/bin:/bin", "LISTENER_CONFIG": str(config)}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-m", "listener", "poll"], env=env, capture_output=True, check=False
        )
    out = subprocess.run(
        [sys.executable, "-m", "listener", "sources", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert rows["down"]["health"] == "unhealthy" and rows["down"]["consecutive_failures"] == 2
    assert "HTTP 503" in rows["down"]["last_error"]
    assert {
        "name",
        "kind",
        "last_success",
        "last_error",
        "consecutive_failures",
        "mentions_24h",
    } <= set(rows["down"])
    assert (
        rows["x-search"]["health"] == "disabled"
        and "LISTENER_X_BEARER_TOKEN" in rows["x-search"]["health_reason"]
    )


def test_an_unhealthy_source_alerts_operators_once_per_outage(
    make_settings, http_server: LocalServer, db_url: str
) -> None:
    from listener.alerts.webhook import verify
    from listener.app import make_listener
    from listener.sources.watch import watch_sources
    from listener.store.alerts import alert_ids

    http_server.route("/down.xml", status=500)
    http_server.route("/hook", status=200)
    settings = make_settings(
        database={"url": db_url},
        sources=[{"name": "down", "url": http_server.url("/down.xml")}],
        service={"unhealthy_after_failures": 2},
        alerts=[
            {
                "name": "ops",
                "kind": "webhook",
                "url": http_server.url("/hook"),
                "secret_env": "HOOK_SECRET",
            }
        ],
    )
    listener = make_listener(settings, environ={"HOOK_SECRET": "s3cret"})
    try:
        listener.poll("down")
        assert watch_sources(listener.store, settings, listener.clock) == 0  # one failure is noise
        listener.poll("down")
        assert watch_sources(listener.store, settings, listener.clock) == 1
        listener.poll("down")
        assert watch_sources(listener.store, settings, listener.clock) == 0  # still the same outage
        alert_job = next(job for job in listener.jobs if job.id == "alerts")
        alert_job.run()
        hooks = [r for r in http_server.requests if r.path == "/hook"]
        assert len(hooks) == 1
        body = json.loads(hooks[0].body)
        assert "down" in json.dumps(body) and "HTTP 500" in json.dumps(body)
        headers = {k.lower(): v for k, v in hooks[0].headers.items()}
        assert verify(
            "s3cret",
            headers["x-listener-timestamp"],
            hooks[0].body,
            headers["x-listener-signature"],
        )

        # Recovery clears the mark, so the next outage alerts again.
        http_server.serve_feed("/down.xml", (FIXTURES / "feeds/complaints.rss").read_bytes())
        listener.poll("down")
        watch_sources(listener.store, settings, listener.clock)
        with listener.store._read() as conn:
            assert len(alert_ids(conn)) == 1
    finally:
        listener.close()
