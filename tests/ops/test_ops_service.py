"""`listener run` as a real process, seen the way operators see it: `/healthz`, `/readyz` and
`/metrics` over HTTP (parsed with the Prometheus client's own parser), JSON log lines, SIGHUP
and SIGTERM; and `/readyz` going unready when the database goes away and ready again when it
comes back (PostgreSQL behind a TCP proxy the test cuts; SQLite at a schema it does not know).
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import make_url

from tests.support.fakes.tcp_proxy import TcpProxy
from tests.support.http_server import LocalServer
from tests.support.processes import ServiceProcess, start_service, stop_all, write_settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(titles: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{i}</link>"
        f"<guid>https://news.example/{i}</guid><description>{t}</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


def scrape(base: str, token: str = "") -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{base}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what or 'condition'} not met within {timeout}s; last: {last!r}")


def readyz(base: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{base}/readyz", timeout=10)
    return response.status_code, response.json()


def check_named(body: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in body["checks"] if c["name"] == name]
    return found


def test_metrics_move_with_polls_and_a_failing_source_on_a_token_protected_ops_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    token = "scrape-me-7f3a"
    log_file = tmp_path / "listener.log"
    monkeypatch.setenv("LISTENER_OPS__METRICS_TOKEN", token)
    with LocalServer() as feeds:
        feeds.serve_feed(
            "/good.xml",
            rss(["O2 signal gone again today", "O2 billing is a mess", "weather is fine"]),
            etag='"v1"',
        )
        feeds.route("/bad.xml", status=500, body=b"down")
        config = write_settings(
            tmp_path / "settings.toml",
            database_url=f"sqlite:///{tmp_path / 'listener.db'}",
            feeds=[("good", feeds.url("/good.xml")), ("bad", feeds.url("/bad.xml"))],
            every="1s",
            extra=(
                # No scrape cache: each scrape below reads the database as it is then.
                f'[ops]\nport = {port}\nscrape_cache = "0s"\n'
                f'[logging]\nformat = "human"\nfile = {json.dumps(str(log_file))}\n'
            ),
        )
        service = start_service(config, tmp_path / "out.log", args=("run", "--log-format", "json"))
        base = f"http://127.0.0.1:{port}"
        try:
            eventually(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200)
            health = httpx.get(f"{base}/healthz", timeout=5).json()
            assert health["status"] == "alive"

            # Without the token /metrics says how to authenticate; the health checks need none.
            refused = httpx.get(f"{base}/metrics", timeout=5)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"

            def polled() -> Samples | None:
                s = scrape(base, token)
                ok = value(s, "listener_polls_total", source="good", outcome="ok")
                failed = value(s, "listener_polls_total", source="bad", outcome="failed")
                return s if ok >= 1 and failed >= 2 else None

            first = eventually(polled, what="a good and two failed polls")
            assert value(first, "listener_mentions_total", source="good", result="fetched") == 3
            assert value(first, "listener_mentions_total", source="good", result="stored") == 2
            assert value(first, "listener_mentions_total", source="bad", result="fetched") == 0
            assert value(first, "listener_scoring_seconds_count") >= 1
            assert value(first, "listener_pipeline_batch_seconds_count") >= 1
            assert value(first, "listener_scheduler_up") == 1
            assert value(first, "listener_database_up") == 1
            assert value(first, "listener_queue_drafts", status="pending") >= 1
            assert value(first, "listener_source_consecutive_failures", source="bad") >= 2
            assert value(first, "listener_source_consecutive_failures", source="good") == 0
            assert value(first, "listener_source_last_success_timestamp_seconds", source="good")
            assert value(first, "listener_job_last_success_timestamp_seconds", job="poll:good") > 0

            # A new item: one more stored, the two known ones counted as duplicates.
            feeds.serve_feed(
                "/good.xml",
                rss(
                    [
                        "O2 signal gone again today",
                        "O2 billing is a mess",
                        "weather is fine",
                        "O2 support never called back",
                    ]
                ),
                etag='"v2"',
            )

            def grew() -> Samples | None:
                s = scrape(base, token)
                stored = value(s, "listener_mentions_total", source="good", result="stored")
                return s if stored == 3 else None

            second = eventually(grew, what="the new item stored")
            assert value(second, "listener_mentions_total", source="good", result="duplicate") == 2
            assert value(second, "listener_polls_total", source="good", outcome="ok") > value(
                first, "listener_polls_total", source="good", outcome="ok"
            )
            assert value(second, "listener_polls_total", source="bad", outcome="failed") > value(
                first, "listener_polls_total", source="bad", outcome="failed"
            )
            assert value(second, "listener_source_health", source="good", state="healthy") == 1

            status, body = readyz(base)
            assert status == 200, body
            assert body["status"] == "ready"
            assert {c["name"] for c in body["checks"]} == {"database", "scheduler", "jobs"}
            assert str(tmp_path) not in json.dumps(body)  # nothing about where data lives

            # Logs: one JSON object per line in the file, with the source as context.
            lines = _json_lines(log_file)
            assert all({"time", "level", "logger", "message"} <= set(e) for e in lines)
            assert all(e["time"].endswith("Z") for e in lines)
            failures = [e for e in lines if e.get("source") == "bad"]
            assert failures and failures[0]["level"] == "warning"
            assert "FAILED" in failures[0]["message"]
            assert not any("O2 billing is a mess" in e["message"] for e in lines)

            _sighup_reopens_the_log(service, log_file)
        finally:
            code = service.terminate()
            stop_all([service])
        assert code == 0, service.output
        assert any(e["message"] == "listener stopped cleanly." for e in _json_lines(log_file))


def _sighup_reopens_the_log(service: ServiceProcess, log_file: Path) -> None:
    rotated = log_file.with_suffix(".log.1")
    log_file.rename(rotated)
    service.process.send_signal(signal.SIGHUP)

    def reopened() -> bool:
        return log_file.exists() and any("SIGHUP" in e["message"] for e in _json_lines(log_file))

    eventually(reopened, timeout=15, what="a new log file after SIGHUP")
    assert service.process.poll() is None  # SIGHUP does not stop the service


def _json_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_desk_port_serves_health_and_metrics_and_readyz_fails_on_an_unknown_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    database = tmp_path / "listener.db"
    monkeypatch.setenv("LISTENER_WEB__ENABLED", "true")
    monkeypatch.setenv("LISTENER_WEB__PORT", str(port))
    monkeypatch.setenv("LISTENER_WEB_SECRET_KEY", "k" * 40)
    with LocalServer() as feeds:
        feeds.serve_feed("/good.xml", rss(["O2 is down for me"]), etag='"v1"')
        # Answers after 4 s: a poll is still running when the service is asked to stop.
        feeds.route("/slow.xml", body=rss(["O2 again"]), delay=4)
        config = write_settings(
            tmp_path / "settings.toml",
            database_url=f"sqlite:///{database}",
            feeds=[("good", feeds.url("/good.xml")), ("slow", feeds.url("/slow.xml"))],
            every="1s",
            ops_endpoints=True,
        )
        service = start_service(config, tmp_path / "out.log")
        base = f"http://127.0.0.1:{port}"
        try:
            service.wait_for("health and metrics on the desk's port")
            status, body = eventually(lambda: (r := readyz(base))[0] == 200 and r)
            assert check_named(body, "scheduler")["status"] == "ok"
            samples = scrape(base)
            assert (
                value(
                    samples,
                    "listener_build_info",
                    service_instance=body["instance"],
                    version=httpx.get(f"{base}/healthz").json()["version"],
                )
                == 1
            )

            # A newer listener migrated the database past what this one knows.
            with closing(sqlite3.connect(database, timeout=30)) as conn, conn:
                [(head,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
                conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
            status, body = readyz(base)
            assert status == 503
            assert body["status"] == "not ready"
            database_check = check_named(body, "database")
            assert database_check["status"] == "failing"
            assert "9999_future" in database_check["detail"] and head in database_check["detail"]

            with closing(sqlite3.connect(database, timeout=30)) as conn, conn:
                conn.execute("UPDATE alembic_version SET version_num = ?", (head,))
            status, body = readyz(base)
            assert status == 200, body

            # SIGTERM while a poll runs: unready at once, while the poll finishes.
            asked = len([r for r in feeds.requests if r.path == "/slow.xml"])
            eventually(lambda: len([r for r in feeds.requests if r.path == "/slow.xml"]) > asked)
            service.process.send_signal(signal.SIGTERM)
            status, body = eventually(
                lambda: (r := readyz(base))[0] == 503 and r, timeout=3, what="draining"
            )
            assert check_named(body, "scheduler")["detail"].startswith("stopping")
            assert service.process.poll() is None  # still finishing the slow poll
        finally:
            code = service.terminate()
            stop_all([service])
        assert code == 0, service.output


@pytest.mark.postgres
def test_readyz_turns_unready_when_postgresql_goes_away_and_ready_when_it_returns(
    tmp_path: Path, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    port = free_port()
    with TcpProxy(url.host or "localhost", url.port or 5432) as proxy, LocalServer() as feeds:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        feeds.serve_feed("/good.xml", rss(["O2 is down for me"]), etag='"v1"')
        config = write_settings(
            tmp_path / "settings.toml",
            database_url=through_proxy,
            feeds=[("good", feeds.url("/good.xml"))],
            every="1s",
            extra=f'[ops]\nport = {port}\nscrape_cache = "1s"\n',
        )
        service = start_service(config, tmp_path / "out.log")
        base = f"http://127.0.0.1:{port}"
        try:
            eventually(lambda: readyz(base)[0] == 200, what="ready at start")

            proxy.cut()
            _, body = eventually(
                lambda: (r := readyz(base))[0] == 503 and r, what="unready without a database"
            )
            assert check_named(body, "database")["status"] == "failing"
            assert "127.0.0.1" not in json.dumps(body) and "postgresql" not in json.dumps(body)
            assert check_named(body, "scheduler")["status"] == "ok"
            eventually(
                lambda: (
                    value(scrape(base), "listener_database_up") == 0
                    and ("listener_database_up", frozenset()) in scrape(base)
                ),
                what="listener_database_up 0",
            )
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # still alive

            proxy.restore()
            _, body = eventually(lambda: (r := readyz(base))[0] == 200 and r, what="ready again")
            assert check_named(body, "database")["status"] == "ok"
            eventually(lambda: value(scrape(base), "listener_database_up") == 1)
            assert service.process.poll() is None
        finally:
            code = service.terminate()
            stop_all([service])
        assert code == 0, service.output
