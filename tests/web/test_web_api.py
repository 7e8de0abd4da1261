"""The JSON API under /api/: bearer tokens, the same roles, rules and audit as the pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from listener.app import Listener
from listener.web.auth import new_api_token
from listener.web.server import WebServer
from tests.support.web import HOSTILE, add_user, seeded_listener


def token_for(listener: Listener, name: str) -> str:
    token, token_hash = new_api_token()
    listener.store.users.set_api_token_hash(name, token_hash, actor="test", at=listener.clock.now())
    return token


class Api:
    def __init__(self, listener: Listener, url: str) -> None:
        self.listener = listener
        self.url = url
        self.clients: list[httpx.Client] = []

    def as_user(self, name: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token_for(self.listener, name)}"} if name else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=10)
        self.clients.append(client)
        return client


@pytest.fixture
def api(make_settings: Callable[..., Any], db_url: str) -> Iterator[Api]:
    settings = make_settings(database={"url": db_url}, scoring={"model": "lexicon"})
    listener = seeded_listener(settings)
    for name, role in [("ann", "approver"), ("bob", "approver"), ("vic", "viewer")]:
        add_user(listener, name, role)
    with WebServer(listener, port=0, environ={}) as server:
        found = Api(listener, server.url)
        yield found
        for client in found.clients:
            client.close()
    listener.close()


def test_no_token_or_a_wrong_one_is_401(api: Api) -> None:
    anonymous = api.as_user(None)
    assert anonymous.get("/api/queue").status_code == 401
    assert anonymous.get("/api/queue").headers["www-authenticate"] == "Bearer"
    wrong = anonymous.get("/api/queue", headers={"Authorization": "Bearer lst_guess"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "send a valid API token as 'Authorization: Bearer <token>'"}


def test_a_session_cookie_does_not_open_the_api(api: Api) -> None:
    from tests.web.test_web import sign_in

    client = api.as_user(None)
    assert sign_in(client, "ann").status_code == 303
    assert client.get("/api/queue").status_code == 401


def test_a_new_token_replaces_the_old_one(api: Api) -> None:
    old = api.as_user("ann")
    assert old.get("/api/queue").status_code == 200
    api.as_user("ann")
    assert old.get("/api/queue").status_code == 401


def test_the_queue_lists_drafts_with_their_mentions_most_urgent_first(api: Api) -> None:
    body = api.as_user("vic").get("/api/queue").json()
    items = body["items"]
    assert len(items) == body["count"] == len(api.listener.store.drafts(limit=100))
    assert body["next"] is None and body["count_is_lower_bound"] is False
    priorities = [i["priority"] for i in items]
    assert priorities == sorted(priorities, reverse=True)
    first = items[0]
    assert first["status"] == "pending"
    assert {"author", "author_followers", "source", "url", "published_at", "signals"} <= set(
        first["mention"]
    )
    hostile = next(i for i in items if i["recipient"] == "tweet-99")
    assert HOSTILE in hostile["mention"]["text"]  # JSON carries the text as it is


def test_the_queue_pages_with_a_cursor(api: Api) -> None:
    client = api.as_user("vic")
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = client.get("/api/queue", params=params).json()
        seen.extend(i["id"] for i in body["items"])
        if body["next"] is None:
            break
        params["after"] = body["next"]
    assert len(seen) == len(set(seen)) == len(api.listener.store.drafts(limit=100))


def test_bad_filters_are_422(api: Api) -> None:
    client = api.as_user("vic")
    assert client.get("/api/queue", params={"status": "bogus"}).status_code == 422
    assert client.get("/api/queue", params={"category": "bogus"}).status_code == 422
    assert client.get("/api/queue", params={"limit": 0}).status_code == 422


def test_one_draft_with_its_history(api: Api) -> None:
    draft_id = api.listener.store.drafts(limit=1)[0].id
    body = api.as_user("vic").get(f"/api/drafts/{draft_id}").json()
    assert body["id"] == draft_id
    assert body["history"][0]["action"] == "created"
    assert api.as_user("vic").get("/api/drafts/999999").status_code == 404


def test_a_viewer_token_cannot_act(api: Api) -> None:
    draft_id = api.listener.store.drafts(limit=1)[0].id
    response = api.as_user("vic").post(f"/api/drafts/{draft_id}/approve")
    assert response.status_code == 403
    assert "needs the approver role" in response.json()["error"]


def test_approve_reject_edit_snooze_are_audited_under_the_user_name(api: Api) -> None:
    ann = api.as_user("ann")
    a, b, c, d = [x.id for x in api.listener.store.drafts(limit=4)]
    assert ann.post(f"/api/drafts/{a}/approve").json()["status"] == "approved"
    rejected = ann.post(f"/api/drafts/{b}/reject", json={"reason": "sarcasm"}).json()
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "sarcasm")
    reply = f"Sorry from {api.listener.store.draft(c).brand}! DM us."  # it must name the brand
    edited = ann.post(f"/api/drafts/{c}/edit", json={"text": reply}).json()
    assert (edited["text"], edited["edited_by"]) == (reply, "ann")
    assert ann.post(f"/api/drafts/{d}/snooze", json={"for": "2h"}).json()["status"] == "snoozed"
    actions = {
        (r.actor, r.action, r.entity_id)
        for r in api.listener.store.audit(limit=20)
        if r.entity == "draft"
    }
    assert {
        ("ann", "draft.approve", str(a)),
        ("ann", "draft.reject", str(b)),
        ("ann", "draft.edit", str(c)),
        ("ann", "draft.snooze", str(d)),
    } <= actions


def test_refusals_say_why_with_the_right_status(api: Api) -> None:
    ann = api.as_user("ann")
    draft_id = api.listener.store.drafts(limit=1)[0].id
    assert ann.post(f"/api/drafts/{draft_id}/reject", json={"reason": ""}).status_code == 422
    assert ann.post(f"/api/drafts/{draft_id}/reject", json={}).status_code == 422
    too_long = ann.post(f"/api/drafts/{draft_id}/edit", json={"text": "x" * 281})
    assert too_long.status_code == 422
    assert "281 characters" in too_long.json()["error"]
    anonymous = ann.post(f"/api/drafts/{draft_id}/edit", json={"text": "Sorry! DM us."})
    assert anonymous.status_code == 422 and "must name the brand" in anonymous.json()["error"]
    past = ann.post(f"/api/drafts/{draft_id}/snooze", json={"until": "2000-01-01T00:00:00Z"})
    assert past.status_code == 422
    assert ann.post(f"/api/drafts/{draft_id}/approve").status_code == 200
    again = ann.post(f"/api/drafts/{draft_id}/approve")
    assert again.status_code == 409
    assert "is approved; cannot approve it" in again.json()["error"]


def test_four_eyes_applies_to_the_api(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(scoring={"model": "lexicon"}, outreach={"four_eyes": True})
    listener = seeded_listener(settings)
    add_user(listener, "ann", "approver")
    add_user(listener, "bob", "approver")
    with WebServer(listener, port=0, environ={}) as server:
        api = Api(listener, server.url)
        ann, bob = api.as_user("ann"), api.as_user("bob")
        draft = listener.store.drafts(limit=1)[0]
        draft_id = draft.id
        edit = ann.post(f"/api/drafts/{draft_id}/edit", json={"text": f"{draft.brand}: sorry!"})
        assert edit.status_code == 200
        refused = ann.post(f"/api/drafts/{draft_id}/approve")
        assert refused.status_code == 403 and "four-eyes" in refused.json()["error"]
        assert bob.post(f"/api/drafts/{draft_id}/approve").json()["approved_by"] == "bob"
        for client in api.clients:
            client.close()
    listener.close()


def test_mentions_newest_first_with_filters(api: Api) -> None:
    client = api.as_user("vic")
    body = client.get("/api/mentions", params={"limit": 3}).json()
    times = [m["published_at"] for m in body["items"]]
    assert len(times) == 3 and times == sorted(times, reverse=True)
    older = client.get("/api/mentions", params={"limit": 3, "before": body["next"]}).json()
    assert not {m["id"] for m in older["items"]} & {m["id"] for m in body["items"]}
    skyline = client.get("/api/mentions", params={"brand": "Skyline Air"}).json()["items"]
    assert skyline and {m["brand"] for m in skyline} == {"Skyline Air"}


def test_incidents_endpoint_answers(api: Api) -> None:
    body = api.as_user("vic").get("/api/incidents").json()
    assert set(body) == {"available", "items"}


def test_mentions_filter_by_language(api: Api) -> None:
    client = api.as_user("vic")
    english = client.get("/api/mentions", params={"lang": "en"}).json()["items"]
    assert english and {m["lang"] for m in english} == {"en"}
    assert client.get("/api/mentions", params={"lang": "zh"}).json()["items"] == []
    assert client.get("/api/mentions", params={"lang": "x" * 21}).status_code == 422
