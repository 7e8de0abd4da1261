"""Crisis mode on the desk, through the JSON API and the shell: the incident page's holding
statement section (crisis role only), the statements API with its 403/409/422 answers, and
`listener statements` (approve needs a crisis user: exit 1 otherwise)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from listener.app import Listener
from listener.settings import Settings, load_settings
from listener.web.server import WebServer
from tests.support.cli import listener_cli
from tests.support.crisis import PRESS, UPDATES, crisis_listener, crisis_settings
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import SmtpServer
from tests.support.paths import REPO
from tests.support.web import csrf_from
from tests.web.test_web import sign_in
from tests.web.test_web_api import token_for


@pytest.fixture
def desk(
    make_settings: Callable[..., Settings], db_url: str, x_api: XApiServer, smtp_server: SmtpServer
) -> Iterator[tuple[Listener, int, WebServer]]:
    settings = crisis_settings(make_settings, db_url, x_url=x_api.url, smtp=smtp_server)
    listener, incident_id = crisis_listener(settings)
    with WebServer(listener, port=0, environ={}) as server:
        yield listener, incident_id, server
    listener.close()


def browser_client(server: WebServer, name: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10)
    assert sign_in(client, name).status_code == 303
    return client


def form(client: httpx.Client, page: str, path: str, **data: Any) -> httpx.Response:
    token = csrf_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data})


def test_the_incident_page_drafts_approves_twice_and_posts_a_statement(
    desk: tuple[Listener, int, WebServer], x_api: XApiServer
) -> None:
    listener, incident_id, server = desk
    page = f"/incidents/{incident_id}"
    ann, bob, cat = (browser_client(server, n) for n in ("ann", "bob", "cat"))
    try:
        seen_by_cat = cat.get(page).text
        assert "Holding statement" in seen_by_cat and "Draft a statement" not in seen_by_cat
        assert (
            form(cat, page, f"/incidents/{incident_id}/statements", channel="x").status_code == 403
        )

        assert (
            form(ann, page, f"/incidents/{incident_id}/statements", channel="x").status_code == 303
        )
        [s] = listener.store.statements.find(incident_id)
        assert form(ann, page, f"/statements/{s.id}/approve").status_code == 303
        shown = ann.get(page).text
        assert "approved by ann; needs a second crisis approver" in shown
        form(ann, page, f"/statements/{s.id}/approve")
        assert "needs a second crisis approver" in ann.get(page).text  # ann twice is not two
        assert form(cat, page, f"/statements/{s.id}/approve").status_code == 403

        form(bob, page, f"/statements/{s.id}/approve")
        assert "approved by ann and bob" in bob.get(page).text
        form(bob, page, f"/statements/{s.id}/post")
        form(bob, page, f"/statements/{s.id}/post")  # a second click does nothing
        assert len(x_api.requests_to("post")) == 1
        final = bob.get(page).text
        assert "posted" in final and "https://x.com/O2/status/" in final
    finally:
        for c in (ann, bob, cat):
            c.close()


def test_the_amplifier_picker_drafts_crisis_replies_within_the_cap(
    desk: tuple[Listener, int, WebServer],
) -> None:
    listener, incident_id, server = desk
    page = f"/incidents/{incident_id}"
    ann = browser_client(server, "ann")
    try:
        assert 'name="author" value="@bigvoice"' in ann.get(page).text
        form(
            ann, page, f"/incidents/{incident_id}/crisis-replies", author=["@bigvoice", "@londoner"]
        )
        replies = listener.store.statements.crisis_replies(incident_id)
        assert len(replies) == 2 and all(UPDATES in d.text for d in replies)
        assert 'Crisis replies <span class="count">2 of at most 5' in ann.get(page).text
    finally:
        ann.close()


def test_the_statements_api_keeps_the_same_rules(desk: tuple[Listener, int, WebServer]) -> None:
    listener, incident_id, server = desk

    def client(name: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token_for(listener, name)}"}
        return httpx.Client(base_url=server.url, headers=headers, timeout=10)

    ann, bob, cat = client("ann"), client("bob"), client("cat")
    try:
        base = f"/api/incidents/{incident_id}/statements"
        assert cat.post(base, json={"channel": "email"}).status_code == 403
        made = ann.post(base, json={"channel": "email"})
        assert made.status_code == 201 and made.json()["recipients"] == PRESS
        sid = made.json()["id"]
        assert ann.post(base, json={"channel": "email"}).status_code == 409
        assert ann.post(f"/api/statements/{sid}/edit", json={"text": "no brand"}).status_code == 422
        assert cat.post(f"/api/statements/{sid}/approve").status_code == 403
        first = ann.post(f"/api/statements/{sid}/approve").json()
        assert first["status"] == "draft" and first["first_approved_by"] == "ann"
        assert ann.post(f"/api/statements/{sid}/approve").status_code == 403
        assert ann.post(f"/api/statements/{sid}/post").status_code == 403  # not approved yet
        assert bob.post(f"/api/statements/{sid}/approve").json()["status"] == "approved"
        assert bob.post(f"/api/statements/{sid}/post").json()["status"] == "posted"
        listed = cat.get(base).json()
        assert [s["status"] for s in listed["items"]] == ["posted"]
        assert listed["items"][0]["approvals"] == "approved by ann and bob"

        replies = ann.post(
            f"/api/incidents/{incident_id}/crisis-replies", json={"authors": ["@bigvoice"]}
        )
        assert replies.status_code == 201 and replies.json()["items"][0]["kind"] == "crisis"
        reply_id = replies.json()["items"][0]["id"]
        assert cat.post(f"/api/drafts/{reply_id}/approve").status_code == 403
    finally:
        for c in (ann, bob, cat):
            c.close()


def test_the_shell_drafts_approves_with_crisis_users_and_records_a_manual_post(
    tmp_path: Path,
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///listener.db"
[[brands]]
name = "O2"
terms = ["O2", "@O2"]
updates_url = "{UPDATES}"
[outreach]
templates_dir = "{REPO / "templates"}"
crisis_replies_max = 1
[incidents]
reach_followers = 100000
reach_incident_risk = 0.1
[scoring]
model = "lexicon"
""",
        encoding="utf-8",
    )
    listener, incident_id = crisis_listener(load_settings(config))
    listener.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return listener_cli(config, "statements", *args)

    drafted = cli("draft", str(incident_id), "--channel", "manual", "--as", "ann")
    assert drafted.returncode == 0, drafted.stderr
    sid = str(json.loads(drafted.stdout)["id"])
    again = cli("draft", str(incident_id), "--channel", "manual")
    assert again.returncode == 1 and "one per channel" in again.stderr

    refused = cli("approve", sid, "--as", "cat")
    assert refused.returncode == 1 and "crisis approver" in refused.stderr
    assert cli("approve", sid, "--as", "ann").returncode == 0
    assert cli("approve", sid, "--as", "ann").returncode == 1  # the same person twice
    assert json.loads(cli("approve", sid, "--as", "bob").stdout)["status"] == "approved"
    posted = cli("posted", sid, "--url", "https://forum.example/o2", "--as", "ann")
    assert json.loads(posted.stdout)["status"] == "posted"

    [listed] = json.loads(cli("--incident", str(incident_id), "--json").stdout)
    assert listed["url"] == "https://forum.example/o2"
    assert listed["approvals"] == "approved by ann and bob"

    one = cli("reply", str(incident_id), "--to", "@bigvoice", "--to", "@londoner")
    assert one.returncode == 1 and "at most 1 crisis replies" in one.stderr
    [reply] = json.loads(cli("reply", str(incident_id), "--to", "@bigvoice").stdout)
    assert reply["kind"] == "crisis" and "https://forum.example/o2" in reply["text"]
