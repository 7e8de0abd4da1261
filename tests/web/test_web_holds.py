"""Crisis mode on the desk and the JSON API: an incident holding its authors' replies, shown on
its page and the queue, released or cancelled in bulk by the crisis role (never an approver),
and the same release clicked in a real headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from listener.store import DraftFilter
from tests.support.browser import launched_chromium
from tests.support.web import INCIDENT_RULES, PASSWORD, add_user, loud_mention, seeded_listener
from tests.web.test_web import Desk, post, start_desk
from tests.web.test_web_api import token_for


@pytest.fixture
def desk(make_settings: Callable[..., Any], db_url: str) -> Iterator[Desk]:
    settings = make_settings(
        database={"url": db_url},
        scoring={"model": "lexicon"},
        incidents=INCIDENT_RULES,
        # Every incident holds here, so the loud post's incident holds its replies at once.
        outreach={"crisis_severity": "low"},
    )
    listener = seeded_listener(settings, extra=[loud_mention()])
    add_user(listener, "cora", "crisis")
    yield from start_desk(listener)


def held_incident(desk: Desk) -> tuple[int, list[int]]:
    [incident] = desk.listener.store.incidents.find(active_only=True)
    held = desk.listener.store.incidents.detail(incident.id).held_drafts
    assert incident.outreach_held and held, "the loud post's reply is held"
    return incident.id, [h["id"] for h in held]


def test_the_incident_page_and_the_queue_say_outreach_is_on_hold(desk: Desk) -> None:
    number, ids = held_incident(desk)
    vic = desk.signed_in("vic")
    page = vic.get(f"/incidents/{number}").text
    assert "Routine outreach for O2 is on hold" in page
    assert f"Held replies ({len(ids)})" in page and f'data-draft-id="{ids[0]}"' in page
    assert f"held: incident #{number} (" in page
    assert "Release all" not in page  # a viewer reads only
    assert "Routine outreach for O2 is on hold" in vic.get("/queue").text
    assert f'id="draft-{ids[0]}"' not in vic.get("/queue").text  # not in the routine queue
    assert "Release all" not in desk.signed_in("ann").get(f"/incidents/{number}").text


def test_only_the_crisis_role_releases_and_each_release_is_audited(desk: Desk) -> None:
    number, ids = held_incident(desk)
    ann = desk.signed_in("ann")
    assert post(ann, f"/incidents/{number}/release").status_code == 403
    cora = desk.signed_in("cora")
    assert post(cora, f"/incidents/{number}/release").status_code == 303
    page = cora.get(f"/incidents/{number}").text
    assert "Held replies (0)" in page and f"{len(ids)} repl" in page
    pending = {d.id for d in desk.listener.store.drafts(DraftFilter(status="pending"), limit=100)}
    assert set(ids) <= pending
    audit = cora.get("/audit").text
    assert "draft.released" in audit and "incident.outreach_released" in audit


def test_the_api_shows_held_replies_and_refuses_an_approver(desk: Desk) -> None:
    number, ids = held_incident(desk)
    with httpx.Client(base_url=desk.server.url) as client:
        ann = {"Authorization": f"Bearer {token_for(desk.listener, 'ann')}"}
        cora = {"Authorization": f"Bearer {token_for(desk.listener, 'cora')}"}
        shown = client.get(f"/api/incidents/{number}", headers=ann).json()
        assert shown["outreach_hold"] == "auto" and [h["id"] for h in shown["held_drafts"]] == ids
        for action in ("hold", "release", "cancel-held"):
            refused = client.post(f"/api/incidents/{number}/{action}", headers=ann)
            assert refused.status_code == 403, action
        cancelled = client.post(
            f"/api/incidents/{number}/cancel-held", headers=cora, json={"reason": "statement"}
        )
        assert cancelled.status_code == 200 and cancelled.json()["draft_ids"] == ids
        assert cancelled.json()["held_drafts"] == []
        again = client.post(f"/api/incidents/{number}/release", headers=cora)
        assert again.status_code == 200 and again.json()["outreach_hold"] == "released"
        held = client.post(f"/api/incidents/{number}/hold", headers=cora)
        assert held.status_code == 200 and held.json()["outreach_hold"] == "on"
        assert client.post(f"/api/incidents/{number}/hold", headers=cora).status_code == 409


@pytest.mark.browser
def test_a_crisis_responder_releases_the_held_replies_in_the_browser(desk: Desk) -> None:
    number, ids = held_incident(desk)
    with launched_chromium() as chromium:
        context = chromium.new_context(base_url=desk.server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto("/queue")
        page.fill("input[name=username]", "cora")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/queue"))
        expect(page.locator(".outreach-hold")).to_contain_text("Routine outreach for O2")

        page.goto(f"/incidents/{number}")
        section = page.locator("#held-replies")
        expect(section.get_by_role("heading")).to_have_text(f"Held replies ({len(ids)})")
        expect(section.locator("tr.held-draft")).to_have_count(len(ids))
        section.get_by_role("button", name="Release all to the queue").click()
        page.wait_for_url(re.compile(rf"/incidents/{number}$"))
        expect(page.locator("#held-replies h2")).to_have_text("Held replies (0)")
        expect(page.get_by_role("status").first).to_contain_text("back in the queue")
        context.close()
        assert problems == []
    statuses = {desk.listener.store.draft(i).status.value for i in ids}
    assert statuses == {"pending"}
