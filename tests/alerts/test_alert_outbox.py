"""The alert outbox: enqueued once, routed by brand and severity, delivered exactly once, held
by quiet hours and cooldowns, retried with backoff while a receiver is down, never lost.

Real databases (SQLite and PostgreSQL), a real local HTTP receiver, a real SMTP server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from listener.alerts.dispatcher import AlertDispatcher, backoff, build_channels, routes_to
from listener.alerts.slack import SlackChannel, escape
from listener.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from listener.clock import ReplayClock
from listener.settings import AlertChannelSettings, Settings
from listener.store import Store
from listener.store import alerts as q
from tests.support.http_server import LocalServer, Reply
from tests.support.outreach import SmtpServer
from tests.support.paths import REPO

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests"
ENV = {"ALERT_SECRET": SECRET}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "hook", "kind": "webhook", "url": url, "secret_env": "ALERT_SECRET", **extra}


def settings_with(make_settings: Callable[..., Settings], *channels: dict[str, Any]) -> Settings:
    return make_settings(alerts=list(channels), incidents={"retry_base": "30s", "retry_max": "8m"})


_OPEN: list[AlertDispatcher] = []


def dispatcher(settings: Settings, store: Store, clock: ReplayClock) -> AlertDispatcher:
    made = AlertDispatcher(settings, store, clock, build_channels(settings.alerts, ENV))
    _OPEN.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_dispatchers() -> Iterator[None]:
    """Dispatchers hold HTTP connection pools; close them when each test ends."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def enqueue(
    store: Store,
    key: str,
    *,
    brand: str = "O2",
    severity: str = "high",
    kind: str = "incident.opened",
    incident_id: int | None = None,
    at: datetime = T0,
) -> int | None:
    with store._write() as conn:
        return q.enqueue_alert(
            conn,
            kind,
            brand,
            severity,
            f"{brand}: something is wrong",
            {"kind": kind, "text": "<b>untrusted</b> & text", "url": "http://desk/incidents/1"},
            key,
            at,
            incident_id=incident_id,
        )


def received(server: LocalServer, path: str = "/hook") -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests if r.path == path]


def test_the_same_alert_is_enqueued_once_whatever_the_number_of_calls(store: Store) -> None:
    first = enqueue(store, "source:blog:unhealthy:2026-03-02")
    again = enqueue(store, "source:blog:unhealthy:2026-03-02")
    assert first is not None and again is None
    with store._read() as conn:
        assert q.alert_ids(conn) == [first]


def test_an_alert_arrives_once_signed_and_keyed_by_its_id(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook", status=204)
    settings = settings_with(make_settings, webhook(http_server.url("/hook")))
    clock = ReplayClock(T0)
    alert_id = enqueue(store, "k1")
    d = dispatcher(settings, store, clock)
    assert d.run_once().sent == 1
    assert d.run_once().sent == 0
    [request] = [r for r in http_server.requests if r.path == "/hook"]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify(
        SECRET, headers[TIMESTAMP_HEADER.lower()], request.body, headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify(
        "wrong", headers[TIMESTAMP_HEADER.lower()], request.body, headers[SIGNATURE_HEADER.lower()]
    )
    assert headers["idempotency-key"] == f"listener-alert-{alert_id}"
    body = json.loads(request.body)
    assert body["alert_id"] == alert_id
    assert body["text"] == "<b>untrusted</b> & text"  # data, never markup
    with store._read() as conn:
        [delivery] = q.list_deliveries(conn)
    assert delivery.status == "sent" and delivery.sent_at == T0


def test_routing_by_brand_and_minimum_severity(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/all")
    http_server.route("/o2-high")
    settings = make_settings(
        alerts=[
            {"name": "all", "kind": "webhook", "url": http_server.url("/all")},
            {
                "name": "o2-high",
                "kind": "webhook",
                "url": http_server.url("/o2-high"),
                "brands": ["O2"],
                "min_severity": "high",
            },
        ]
    )
    enqueue(store, "a", brand="O2", severity="medium")
    enqueue(store, "b", brand="O2", severity="critical")
    enqueue(store, "c", brand="Skyline Air", severity="critical")
    dispatcher(settings, store, ReplayClock(T0)).run_once()
    assert len(received(http_server, "/all")) == 3
    assert [b["brand"] for b in received(http_server, "/o2-high")] == ["O2"]
    assert received(http_server, "/o2-high")[0]["severity"] == "critical"
    assert routes_to(AlertChannelSettings(name="x", kind="email", to=["a@b"]), "", "low")


def test_a_receiver_that_is_down_delays_alerts_with_backoff_and_never_loses_them(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook", status=503, then=[Reply(503), Reply(502), Reply(200)])
    settings = settings_with(make_settings, webhook(http_server.url("/hook")))
    clock = ReplayClock(T0)
    enqueue(store, "k")
    d = dispatcher(settings, store, clock)
    waits = []
    for _ in range(3):
        report = d.run_once()
        assert report.retrying == 1 and report.sent == 0
        with store._read() as conn:
            [delivery] = q.list_deliveries(conn)
        assert delivery.status == "pending"
        assert "503" in delivery.last_error or "502" in delivery.last_error
        assert delivery.next_attempt_at is not None
        waits.append(delivery.next_attempt_at - clock.now())
        assert d.run_once().sent == 0  # not before its time
        clock.advance_to(delivery.next_attempt_at)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert d.run_once().sent == 1
    assert backoff(20, timedelta(seconds=30), timedelta(minutes=8)) == timedelta(minutes=8)
    with store._read() as conn:
        [delivery] = q.list_deliveries(conn)
    assert delivery.status == "sent" and delivery.attempts == 4


def test_a_rejected_alert_fails_visibly_instead_of_retrying_forever(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook", status=404)
    settings = settings_with(make_settings, webhook(http_server.url("/hook")))
    enqueue(store, "k")
    assert dispatcher(settings, store, ReplayClock(T0)).run_once().failed == 1
    with store._read() as conn:
        [delivery] = q.list_deliveries(conn)
    assert delivery.status == "failed" and "404" in delivery.last_error


def test_quiet_hours_hold_an_alert_until_they_end(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook")
    quiet = {"start": "22:00", "end": "07:00", "timezone": "UTC"}
    settings = settings_with(make_settings, webhook(http_server.url("/hook"), quiet_hours=quiet))
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    clock = ReplayClock(night)
    enqueue(store, "k", at=night)
    d = dispatcher(settings, store, clock)
    assert d.run_once().held == 1
    with store._read() as conn:
        [delivery] = q.list_deliveries(conn)
    assert delivery.hold_reason == "quiet hours"
    assert delivery.next_attempt_at == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    clock.advance_to(datetime(2026, 3, 3, 6, 59, tzinfo=UTC))
    assert d.run_once().sent == 0
    clock.advance_to(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    assert d.run_once().sent == 1
    assert len(received(http_server)) == 1


def test_cooldown_holds_escalations_and_sends_only_the_latest(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook")
    settings = settings_with(make_settings, webhook(http_server.url("/hook"), cooldown="15m"))
    clock = ReplayClock(T0)
    d = dispatcher(settings, store, clock)
    enqueue(store, "i7:opened", incident_id=7, severity="medium")
    d.run_once()
    clock.advance_to(T0 + timedelta(minutes=2))
    enqueue(
        store, "i7:high", incident_id=7, severity="high", kind="incident.escalated", at=clock.now()
    )
    assert d.run_once().held == 1
    clock.advance_to(T0 + timedelta(minutes=5))
    enqueue(
        store,
        "i7:critical",
        incident_id=7,
        severity="critical",
        kind="incident.escalated",
        at=clock.now(),
    )
    assert d.run_once().held == 1
    clock.advance_to(T0 + timedelta(minutes=15))
    report = d.run_once()
    assert report.superseded == 1 and report.sent == 1
    assert [b["severity"] for b in received(http_server)] == ["medium", "critical"]
    # Another incident is not held by this one's cooldown.
    enqueue(store, "i8:opened", incident_id=8, severity="low", at=clock.now())
    assert d.run_once().sent == 1


def test_two_dispatchers_never_claim_the_same_delivery(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook")
    settings = settings_with(make_settings, webhook(http_server.url("/hook")))
    for i in range(40):
        enqueue(store, f"k{i}")
    clock = ReplayClock(T0)
    first = dispatcher(settings, store, clock)
    first.route(clock.now())
    claims: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def claim(slot: int) -> None:
        other = AlertDispatcher(settings, store, clock, {}, batch=7)
        other.channels = first.channels
        try:
            for _ in range(10):
                claims[slot].extend(d.id for d in other.claim(clock.now()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not set(claims[0]) & set(claims[1])
    assert len(claims[0]) + len(claims[1]) == 40


def test_email_alerts_go_over_smtp_as_plain_text(
    store: Store, make_settings: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    settings = make_settings(
        alerts=[
            {
                "name": "mail",
                "kind": "email",
                "to": ["oncall@example.test"],
                "sender": "listener@example.test",
                "smtp_host": smtp_server.host,
                "smtp_port": smtp_server.port,
            }
        ]
    )
    alert_id = enqueue(store, "k")
    assert dispatcher(settings, store, ReplayClock(T0)).run_once().sent == 1
    [message] = smtp_server.messages
    assert message["Subject"].startswith("[HIGH]")
    assert message["Message-ID"] == f"<listener-alert-{alert_id}@example.test>"
    assert message.get_content_type() == "text/plain"
    assert "<b>untrusted</b> & text" in message.get_payload(decode=True).decode()


def test_an_smtp_server_that_is_down_means_retry_not_loss(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        alerts=[
            {
                "name": "mail",
                "kind": "email",
                "to": ["a@example.test"],
                "smtp_host": "127.0.0.1",
                "smtp_port": 1,
            }
        ]
    )
    enqueue(store, "k")
    assert dispatcher(settings, store, ReplayClock(T0)).run_once().retrying == 1


def test_slack_text_escapes_what_authors_wrote_but_links_the_incident() -> None:
    from listener.alerts.channel import OutgoingAlert

    channel = SlackChannel(AlertChannelSettings(name="s", kind="slack", url="http://127.0.0.1:9/x"))
    alert = OutgoingAlert(
        alert_id=3,
        kind="other",
        brand="O2",
        severity="high",
        title="<!channel> & co",
        body={"text": "<https://evil|click> & more", "url": "http://desk/incidents/3"},
        created_at=T0,
        sent_at=T0,
    )
    text = channel.text(alert)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert "&lt;https://evil|click&gt; &amp; more" in text
    assert "<http://desk/incidents/3|Open the incident>" in text
    assert escape("a<b>&") == "a&lt;b&gt;&amp;"
    channel.close()


KILLED_DISPATCHER = """
import json, os, signal, sys
from datetime import datetime
from listener.alerts.dispatcher import AlertDispatcher, build_channels
from listener.clock import ReplayClock
from listener.settings import validate_settings
from listener.store import Store
from listener.store.alerts import enqueue_alert

raw, claim = json.loads(sys.argv[1]), sys.argv[2] == "claim"
settings = validate_settings(raw)
store = Store.open(settings.database_url)
now = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
with store._write() as conn:
    enqueue_alert(conn, "incident.opened", "O2", "high", "O2: leak", {"text": "x"}, "kill-1", now)
if claim:
    d = AlertDispatcher(settings, store, ReplayClock(now), build_channels(settings.alerts, {}))
    d.route(now)
    assert len(d.claim(now)) == 1
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("killed_after", ["enqueue", "claim"])
def test_killed_between_writing_and_sending_then_restarted_delivers_exactly_once(
    killed_after: str,
    db_url: str,
    make_settings: Callable[..., Settings],
    http_server: LocalServer,
) -> None:
    http_server.route("/hook")
    raw = {
        "database": {"url": db_url},
        "brands": [{"name": "O2", "terms": ["O2"]}],
        "alerts": [{"name": "hook", "kind": "webhook", "url": http_server.url("/hook")}],
        "incidents": {"stuck_after": "2m"},
    }
    result = subprocess.run(
        [sys.executable, "-c", KILLED_DISPATCHER, json.dumps(raw), killed_after],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert received(http_server) == []
    settings = make_settings(**{k: v for k, v in raw.items() if k != "brands"})
    store = Store.open(db_url)
    try:
        with store._read() as conn:
            states = [d.status for d in q.list_deliveries(conn)]
        assert states == (["sending"] if killed_after == "claim" else [])
        # The restarted dispatcher runs later than `stuck_after`, as after any real restart.
        clock = ReplayClock(T0 + timedelta(minutes=3))
        restarted = dispatcher(settings, store, clock)
        restarted.run_once()
        restarted.run_once()
        clock.advance_to(T0 + timedelta(hours=1))
        restarted.run_once()
        bodies = received(http_server)
        assert len(bodies) == 1
        assert len({b["alert_id"] for b in bodies}) == 1
        with store._read() as conn:
            assert [d.status for d in q.list_deliveries(conn)] == ["sent"]
    finally:
        store.close()


def test_a_webhook_whose_secret_is_missing_waits_instead_of_sending_unsigned(
    store: Store, make_settings: Callable[..., Settings], http_server: LocalServer
) -> None:
    http_server.route("/hook")
    settings = settings_with(make_settings, webhook(http_server.url("/hook")))
    enqueue(store, "k")
    unsigned = AlertDispatcher(
        settings, store, ReplayClock(T0), build_channels(settings.alerts, {})
    )
    _OPEN.append(unsigned)
    report = unsigned.run_once()
    assert report.retrying == 1 and "ALERT_SECRET" in report.errors[0]
    assert received(http_server) == []
