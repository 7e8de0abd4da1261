"""The review desk in a real headless Chromium: sign in, edit, approve, reject, audit, roles.

The app runs in-process under uvicorn on 127.0.0.1 (a free port), against a SQLite store
seeded through the real pipeline. Every page also has to run under its strict CSP: a console
error (e.g. a CSP violation) fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from listener.web import incident_data
from listener.web.server import WebServer
from tests.support.browser import launched_chromium
from tests.support.web import (
    HOSTILE,
    INCIDENT_RULES,
    PASSWORD,
    add_user,
    loud_mention,
    seeded_listener,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def desk(make_settings: Callable[..., Any]) -> Iterator[WebServer]:
    settings = make_settings(scoring={"model": "lexicon"}, incidents=INCIDENT_RULES)
    listener = seeded_listener(settings, extra=[loud_mention()])
    add_user(listener, "ann", "approver")
    add_user(listener, "vic", "viewer")
    add_user(listener, "ada", "admin")
    server = WebServer(listener, port=0, environ={})
    server.start()
    yield server
    server.stop()
    listener.close()


@pytest.fixture
def page(browser: Any, desk: WebServer) -> Iterator[Any]:
    context = browser.new_context(base_url=desk.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.problems = []  # console errors and dialogs: none may happen
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    tab.on("dialog", lambda d: (tab.problems.append("dialog: " + d.message), d.dismiss()))
    yield tab
    context.close()


def sign_in(page: Any, name: str) -> None:
    page.goto("/queue")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/queue"))


def test_an_approver_edits_approves_rejects_and_finds_it_in_the_audit_log(
    page: Any, desk: WebServer
) -> None:
    sign_in(page, "ann")
    cards = page.locator("article.card")
    assert cards.count() >= 5
    first = cards.nth(0)
    draft_id = first.get_attribute("data-draft-id")
    brand = desk.app.state.desk.listener.store.draft(int(draft_id)).brand
    reply = f"Sorry about this, {brand} is on it. DM us your account number."

    first.get_by_role("button", name="Edit").click()
    editor = page.locator(f"#text-{draft_id}")
    counter = page.locator(f"#count-{draft_id} .n")
    before = int(counter.inner_text())
    assert before == len(editor.input_value())
    editor.fill(reply)
    page.wait_for_function(
        "([id, n]) => document.querySelector('#count-' + id + ' .n').textContent === n",
        arg=[draft_id, str(len(reply))],
    )
    editor.fill("x" * 300)
    expect(counter).to_have_text("300")
    expect(page.locator(f"#count-{draft_id}")).to_have_class(re.compile("over-limit"))
    editor.fill(reply)
    page.get_by_role("button", name="Save").click()

    card = page.locator(f"#draft-{draft_id}")
    expect(card).to_contain_text(f"Draft {draft_id} edited.")
    expect(card.locator(".draft-text")).to_have_text(reply)
    card.get_by_role("button", name="Approve").click()
    expect(card).to_have_class(re.compile("status-approved"))
    expect(card).to_contain_text("approved by ann")

    second = page.locator("article.card.status-pending").first
    second_id = second.get_attribute("data-draft-id")
    second.get_by_placeholder("Reason").fill("Sarcasm, not a real complaint")
    second.get_by_role("button", name="Reject").click()
    expect(page.locator(f"#draft-{second_id}")).to_have_class(re.compile("status-rejected"))

    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name=re.compile("Audit log"))).to_be_visible()
    audit = page.locator("table.audit tbody")
    rows = audit.inner_text()
    assert re.search(rf"ann\s+draft\.approve\s+draft {draft_id}", rows)
    assert re.search(rf"ann\s+draft\.reject\s+draft {second_id}", rows)
    assert "Sarcasm, not a real complaint" in rows
    assert page.problems == []


def test_without_script_the_forms_still_work(browser: Any, desk: WebServer) -> None:
    context = browser.new_context(base_url=desk.url, java_script_enabled=False)
    tab = context.new_page()
    try:
        sign_in(tab, "ann")
        card = tab.locator("article.card").first
        draft_id = card.get_attribute("data-draft-id")
        card.get_by_role("button", name="Approve").click()
        tab.wait_for_url(re.compile(r"/queue"))
        expect(tab.locator(".flash").first).to_have_text(f"Draft {draft_id} approved.")
        assert tab.locator(f"#draft-{draft_id}").count() == 0  # no longer pending
    finally:
        context.close()


def test_a_viewer_sees_no_approve_button_and_a_forged_approval_is_refused(
    page: Any, desk: WebServer
) -> None:
    sign_in(page, "vic")
    assert page.locator("article.card").count() >= 5
    assert page.get_by_role("button", name="Approve").count() == 0
    assert page.get_by_role("button", name="Reject").count() == 0
    assert page.get_by_role("button", name="Edit").count() == 0
    draft_id = page.locator("article.card").first.get_attribute("data-draft-id")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        f"/drafts/{draft_id}/approve", form={"csrf_token": token}, max_redirects=0
    )
    assert forged.status == 403
    assert desk.app.state.desk.listener.store.draft(int(draft_id)).status.value == "pending"
    assert page.problems == []


def test_a_hostile_mention_is_inert_text_on_every_page(page: Any, desk: WebServer) -> None:
    sign_in(page, "ada")
    store_listener = desk.app.state.desk.listener
    store = store_listener.store
    incident_pages = [f"/incidents/{i['id']}" for i in incident_data.board_json(store_listener)]
    assert incident_pages, "the loud mention should have opened an incident"
    [hostile] = [d for d in store.drafts(limit=100) if d.recipient == "tweet-99"]
    for path in [
        "/queue",
        "/queue?q=script",
        "/mentions",
        "/mentions?q=7*7",
        f"/drafts/{hostile.id}",
        f"/drafts/{hostile.id}/edit",
        "/overview",
        "/incidents",
        *incident_pages,
        "/audit",
        "/admin",
    ]:
        page.goto(path)
        text = page.locator("main").inner_text()
        if path.startswith(("/queue", "/mentions", "/drafts", "/incidents/")):
            assert HOSTILE in text, path  # literally, so the template syntax was not run
    assert page.problems == []
