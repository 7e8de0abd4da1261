"""The incident page's holding statement in a real browser: one crisis user drafts and
approves it, a second approves and posts it; it reaches the fake X API once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from listener.settings import Settings
from listener.web.server import WebServer
from tests.support.browser import launched_chromium
from tests.support.crisis import crisis_listener, crisis_settings
from tests.support.fakes.x_api import XApiServer
from tests.support.web import PASSWORD


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as found:
        yield found


@pytest.fixture
def desk(
    make_settings: Callable[..., Settings], sqlite_url: str, x_api: XApiServer
) -> Iterator[tuple[WebServer, int]]:
    listener, incident_id = crisis_listener(
        crisis_settings(make_settings, sqlite_url, x_url=x_api.url)
    )
    server = WebServer(listener, port=0, environ={})
    server.start()
    yield server, incident_id
    server.stop()
    listener.close()


def signed_in_tab(browser: Any, server: WebServer, name: str) -> Any:
    context = browser.new_context(base_url=server.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    tab.on("dialog", lambda d: (tab.problems.append("dialog: " + d.message), d.dismiss()))
    tab.goto("/queue")
    tab.fill("input[name=username]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/queue"))
    return tab


def test_two_crisis_users_approve_and_post_the_statement_from_the_incident_page(
    browser: Any, desk: tuple[WebServer, int], x_api: XApiServer
) -> None:
    server, incident_id = desk
    ann = signed_in_tab(browser, server, "ann")
    bob = signed_in_tab(browser, server, "bob")
    on_x = "article.statement[data-channel=x]"

    ann.goto(f"/incidents/{incident_id}")
    ann.locator(on_x).get_by_role("button", name="Draft a statement").click()
    ann.locator(on_x).get_by_role("button", name="Approve").click()
    assert "approved by ann; needs a second crisis approver" in ann.locator(on_x).inner_text()
    assert ann.locator(on_x).get_by_role("button", name="Post now").count() == 0

    bob.goto(f"/incidents/{incident_id}")
    bob.locator(on_x).get_by_role("button", name="Approve").click()
    assert "approved by ann and bob" in bob.locator(on_x).inner_text()
    bob.locator(on_x).get_by_role("button", name="Post now").click()
    card = bob.locator(on_x).inner_text()
    assert "posted" in card and "https://x.com/O2/status/" in card
    assert len(x_api.requests_to("post")) == 1
    assert ann.problems == [] and bob.problems == []
    ann.context.close()
    bob.context.close()
