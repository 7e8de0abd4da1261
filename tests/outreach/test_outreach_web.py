"""The outreach pages over HTTP: the outbox shows why replies wait, what a person must check,
and manual replies with "Mark as sent"; cases show SLA breaches; the do-not-contact list can be
edited. Real uvicorn on 127.0.0.1, real store, httpx as the browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from listener.domain import DraftStatus
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from listener.web.server import WebServer
from tests.support.fakes.x_api import DUPLICATE_CONTENT, Failure, XApiServer
from tests.support.outreach import World, build_world, forum_mention, x_mention
from tests.support.web import PASSWORD, add_user, csrf_from


@dataclass
class Site:
    world: World
    server: WebServer
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, name: str) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=10)
        self.clients.append(client)
        token = csrf_from(client.get("/login").text)
        signed = client.post(
            "/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
        )
        assert signed.status_code == 303, signed.text
        return client


def _post(client: httpx.Client, path: str, **data: str) -> httpx.Response:
    token = csrf_from(client.get("/outbox").text)
    return client.post(path, data={"csrf_token": token, **data})


@pytest.fixture
def site(
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
) -> Iterator[Site]:
    settings = make_settings(
        x_publish={"api_url": x_api.url}, scoring={"model": "lexicon"}, web={"enabled": True}
    )
    world = build_world(settings)
    add_user(world.listener, "ann", "approver")
    add_user(world.listener, "vic", "viewer")
    server = WebServer(world.listener, port=0, environ={})
    server.start()
    site = Site(world, server)
    try:
        yield site
    finally:
        for client in site.clients:
            client.close()
        server.stop()
        world.listener.close()


def test_the_outbox_shows_what_waits_and_what_needs_a_check(
    site: Site,
    x_api: XApiServer,
) -> None:
    world = site.world
    dana, eli = x_api.add_user("dana"), x_api.add_user("eli")
    first, second = world.ingest(
        x_mention(x_api, dana, "@O2 no signal"), x_mention(x_api, eli, "@O2 wrong bill")
    )
    world.approve(first, second)
    x_api.fail_next(Failure.forbidden(DUPLICATE_CONTENT), endpoint="post")
    x_api.fail_next(Failure.rate_limited(reset=None), endpoint="post")
    world.dispatcher().run_once()

    ann = site.client("ann")
    page = ann.get("/outbox").text
    assert "Check the platform" in page and "duplicate content" in page
    assert "Waiting: X rate limit (429)" in page
    assert "Mark as sent" in page
    (checked_id,) = [d.id for d in world.drafts() if d.needs_check]
    done = _post(ann, f"/drafts/{checked_id}/mark-sent", platform_id="1234", next="/outbox")
    assert done.status_code == 303
    assert world.draft(checked_id).status is DraftStatus.SENT
    assert world.draft(checked_id).platform_id == "1234"


def test_manual_replies_show_text_and_link_and_can_be_marked_sent(site: Site) -> None:
    world = site.world
    (draft,) = world.ingest(forum_mention(3, "mo"))
    world.approve(draft)
    viewer_page = site.client("vic").get("/outbox").text
    assert 'href="https://forum.example/t/3"' in viewer_page
    assert "Mark as sent" not in viewer_page  # viewers read only
    ann = site.client("ann")
    response = _post(ann, f"/drafts/{draft.id}/mark-sent", next="/outbox")
    assert response.status_code == 303
    assert world.draft(draft.id).status is DraftStatus.SENT
    assert "marked as sent" in ann.get("/outbox").text


def test_the_outbox_warns_about_promotional_wording(site: Site) -> None:
    world = site.world
    (draft,) = world.ingest(forum_mention(4, "pip"))
    world.store.review(
        draft.id,
        ReviewAction.EDIT,
        actor="bob",
        at=world.clock.now(),
        text="Sorry! Upgrade now for a limited time discount. Say STOP to opt out.",
    )
    world.approve(draft)
    page = site.client("ann").get("/outbox").text
    assert "Sounds like sales, not care: Upgrade now, limited time, discount" in page


def test_cases_page_highlights_breaches_and_people_update_cases(
    site: Site,
    x_api: XApiServer,
) -> None:
    world = site.world
    world.ingest(x_mention(x_api, x_api.add_user("fay"), "@O2 who sold you my number?"))
    world.clock.advance_to(world.clock.now() + timedelta(hours=5))
    (case,) = world.store.outreach.cases()
    ann = site.client("ann")
    page = ann.get("/cases").text
    assert f'id="case-{case.id}"' in page and "breached: first_response" in page
    token = csrf_from(ann.get(f"/cases/{case.id}").text)
    saved = ann.post(
        f"/cases/{case.id}",
        data={
            "csrf_token": token,
            "status": "investigating",
            "owner": "ann",
            "root_cause": "bought_in_contact_list",
            "note": "bought list, vendor X",
        },
    )
    assert saved.status_code == 303
    detail = ann.get(f"/cases/{case.id}").text
    assert "investigating" in detail and "bought list, vendor X" in detail
    updated = world.store.outreach.case(case.id)
    assert updated.owner == "ann" and updated.root_cause == "bought_in_contact_list"
    bad = ann.post(f"/cases/{case.id}", data={"csrf_token": token, "status": "new"})
    assert bad.status_code == 303
    assert "cannot become new" in ann.get(f"/cases/{case.id}").text


def test_the_do_not_contact_list_is_edited_in_the_page(
    site: Site,
    x_api: XApiServer,
) -> None:
    world = site.world
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("gus"), "@O2 awful"))
    ann = site.client("ann")
    added = _post(ann, "/contacts", brand="O2", author="@gus", reason="asked by phone")
    assert added.status_code == 303
    page = ann.get("/contacts").text
    assert "asked by phone" in page and "1 waiting repl(ies) cancelled" in page
    assert world.draft(draft.id).status is DraftStatus.CANCELLED
    _post(ann, "/contacts/remove", brand="O2", author="gus")
    assert world.store.outreach.contacts() == []
    refused = _post(site.client("vic"), "/contacts", brand="O2", author="@x")
    assert refused.status_code == 403


def test_the_review_card_warns_about_promotional_wording_before_approval(site: Site) -> None:
    world = site.world
    (draft,) = world.ingest(forum_mention(5, "quin"))
    world.store.review(
        draft.id,
        ReviewAction.EDIT,
        actor="bob",
        at=world.clock.now(),
        text="So sorry. Here is a promo code for 20% off. Say STOP to opt out.",
    )
    page = site.client("ann").get(f"/drafts/{draft.id}").text
    assert "Sounds like sales, not care: promo code, 20% off" in page
