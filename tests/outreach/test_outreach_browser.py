"""The outreach pages in a real headless Chromium, under the desk's strict CSP: a person posts a
manual reply by hand and marks it sent, sees the breached case, and stops contact with someone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from listener.domain import DraftStatus
from listener.settings import Settings
from listener.web.server import WebServer
from tests.support.browser import launched_chromium
from tests.support.outreach import World, build_world, forum_mention
from tests.support.web import PASSWORD, add_user

pytestmark = pytest.mark.browser


@pytest.fixture
def site(make_settings: Callable[..., Settings]) -> Iterator[tuple[World, WebServer]]:
    world = build_world(make_settings(scoring={"model": "lexicon"}))
    add_user(world.listener, "ann", "approver")
    server = WebServer(world.listener, port=0, environ={})
    server.start()
    yield world, server
    server.stop()
    world.listener.close()


def test_mark_a_manual_reply_sent_see_the_breach_and_stop_contact(
    site: tuple[World, WebServer],
) -> None:
    world, server = site
    (draft,) = world.ingest(forum_mention(1, "mo", "O2 lost my parcel, awful service"))
    world.approve(draft)
    world.clock.advance_to(world.clock.now() + timedelta(hours=5))  # first response overdue
    with launched_chromium() as chromium:
        context = chromium.new_context(base_url=server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto("/outbox")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/outbox")
        card = page.locator(f"#outbox-{draft.id}")
        expect(card.get_by_role("link", name="https://forum.example/t/1")).to_be_visible()
        expect(card.locator(".draft-text")).to_contain_text("O2")
        card.get_by_placeholder("Link or id of the posted reply").fill(
            "https://forum.example/t/1#r2"
        )
        card.get_by_role("button", name="Mark as sent").click()
        expect(page.locator(".flash")).to_contain_text(f"Draft {draft.id} marked as sent.")

        page.goto("/cases?status=all")
        expect(page.locator(".sla-breach")).to_contain_text("first_response")
        page.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
        page.select_option("select[name=root_cause]", "staff_error")
        page.fill("input[name=note]", "courier mix-up")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".notes")).to_contain_text("courier mix-up")

        page.goto("/contacts")
        page.fill("input[name=author]", "mo")
        page.fill("input[name=reason]", "asked on the forum")
        page.get_by_role("button", name="Add to the list").click()
        expect(page.locator("table.contacts")).to_contain_text("asked on the forum")
        context.close()
    assert problems == []
    sent = world.draft(draft.id)
    assert sent.status is DraftStatus.SENT and sent.platform_id == "https://forum.example/t/1#r2"
    (case,) = world.store.outreach.cases()
    assert case.root_cause == "staff_error" and case.first_response_at is not None
    assert [c.author for c in world.store.outreach.contacts()] == ["mo"]
