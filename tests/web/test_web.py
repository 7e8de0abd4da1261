"""The review desk over HTTP: sign-in, sessions, CSRF, roles, four-eyes, escaping, headers.

A real uvicorn server on 127.0.0.1 (free port) in a thread, a real store seeded through the
pipeline, and httpx as the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from listener.app import Listener
from listener.web.auth import LoginLimiter
from listener.web.server import WebServer
from tests.support.web import (
    HOSTILE,
    HOSTILE_AUTHOR,
    PASSWORD,
    add_user,
    csrf_from,
    mention,
    seeded_listener,
)


class Desk:
    """A running review desk and a way to make clients for it."""

    def __init__(self, listener: Listener, server: WebServer) -> None:
        self.listener = listener
        self.server = server
        self.clients: list[httpx.Client] = []

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=10)
        self.clients.append(client)
        return client

    def signed_in(self, name: str) -> httpx.Client:
        client = self.client()
        response = sign_in(client, name)
        assert response.status_code == 303, response.text
        return client

    def pending_ids(self) -> list[int]:
        return [d.id for d in self.listener.store.drafts(limit=1000)]


def sign_in(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def post(client: httpx.Client, path: str, **data: str) -> httpx.Response:
    token = csrf_from(client.get("/queue").text)
    return client.post(path, data={"csrf_token": token, **data})


def start_desk(listener: Listener, **kwargs: Any) -> Iterator[Desk]:
    add_user(listener, "ann", "approver")
    add_user(listener, "bob", "approver")
    add_user(listener, "vic", "viewer")
    add_user(listener, "ada", "admin")
    server = WebServer(listener, port=0, environ={}, **kwargs)
    server.start()
    desk = Desk(listener, server)
    yield desk
    for client in desk.clients:
        client.close()
    server.stop()
    listener.close()


@pytest.fixture
def desk(make_settings: Callable[..., Any], db_url: str) -> Iterator[Desk]:
    settings = make_settings(database={"url": db_url}, scoring={"model": "lexicon"})
    yield from start_desk(seeded_listener(settings))


@pytest.fixture
def sqlite_desk(make_settings: Callable[..., Any]) -> Iterator[Desk]:
    yield from start_desk(seeded_listener(make_settings(scoring={"model": "lexicon"})))


# signing in ---------------------------------------------------------------------------------


def test_pages_need_a_signed_in_user(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    for path in ["/queue", "/mentions", "/overview", "/incidents", "/audit", "/admin"]:
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_sign_in_with_the_right_password_opens_the_queue(desk: Desk) -> None:
    client = desk.client()
    response = sign_in(client, "ann")
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    queue = client.get("/queue")
    assert queue.status_code == 200
    assert "ann" in queue.text and "(approver)" in queue.text
    assert desk.listener.store.audit(limit=1)[0].action == "user.login"


def test_a_wrong_password_or_unknown_user_is_refused_alike(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    wrong = sign_in(client, "ann", "not the password")
    unknown = sign_in(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.text
    assert "Wrong user name or password." in unknown.text
    assert client.get("/queue").status_code == 303


def test_sign_in_is_limited_after_five_failures_per_name_and_address(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    for _ in range(5):
        assert sign_in(client, "ann", "guess").status_code == 401
    blocked = sign_in(client, "ann", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    # another account from the same address is not locked out by ann's failures
    assert sign_in(client, "bob", PASSWORD).status_code == 303


def test_the_limiter_forgets_failures_after_its_window() -> None:
    limiter = LoginLimiter(attempts=2, window=0.05)
    limiter.failed("ann", "10.0.0.1")
    limiter.failed("ANN", "10.0.0.1")
    assert limiter.retry_after("ann", "10.0.0.1") > 0
    assert limiter.retry_after("ann", "10.0.0.2") == 0
    import time

    time.sleep(0.06)
    assert limiter.retry_after("ann", "10.0.0.1") == 0


def test_a_disabled_user_is_signed_out_at_once(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("vic")
    admin = sqlite_desk.signed_in("ada")
    assert post(admin, "/admin/users/vic/disabled", disabled="true").status_code == 303
    assert client.get("/queue").status_code == 303
    assert sign_in(sqlite_desk.client(), "vic").status_code == 401


def test_signing_out_ends_the_session(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    assert post(client, "/logout").status_code == 303
    assert client.get("/queue").status_code == 303


def test_after_sign_in_only_local_paths_are_followed(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil.example"]:
        token = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"username": "ann", "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.headers["location"] == "/queue"
        post(client, "/logout")


def test_the_session_cookie_is_http_only_and_same_site(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    response = sign_in(client, "ann")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


# CSRF ---------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    missing = client.post(f"/drafts/{draft_id}/approve")
    forged = client.post(f"/drafts/{draft_id}/approve", data={"csrf_token": "guess"})
    assert missing.status_code == forged.status_code == 403
    assert sqlite_desk.listener.store.draft(draft_id).status.value == "pending"


def test_the_sign_in_form_needs_its_csrf_token_too(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    response = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert response.status_code == 403


def test_a_token_from_another_session_does_not_work(sqlite_desk: Desk) -> None:
    mallory = sqlite_desk.signed_in("bob")
    stolen = csrf_from(mallory.get("/queue").text)
    victim = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    response = victim.post(f"/drafts/{draft_id}/approve", data={"csrf_token": stolen})
    assert response.status_code == 403


def test_htmx_requests_may_send_the_token_as_a_header(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    token = csrf_from(client.get("/queue").text)
    draft_id = sqlite_desk.pending_ids()[0]
    response = client.post(
        f"/drafts/{draft_id}/approve", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert response.status_code == 200
    assert f'id="draft-{draft_id}"' in response.text and "status-approved" in response.text


def test_an_htmx_page_address_no_parser_reads_is_no_server_error(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    token = csrf_from(client.get("/queue").text)
    draft_id = sqlite_desk.pending_ids()[0]
    response = client.post(
        f"/drafts/{draft_id}/approve",
        headers={"X-CSRF-Token": token, "HX-Request": "true", "HX-Current-URL": "http://[::1"},
    )
    assert response.status_code == 200 and "status-approved" in response.text


# roles and the review actions ---------------------------------------------------------------


def test_a_viewer_reads_but_cannot_act(desk: Desk) -> None:
    client = desk.signed_in("vic")
    queue = client.get("/queue").text
    assert ">Approve<" not in queue and ">Reject<" not in queue and ">Edit<" not in queue
    draft_id = desk.pending_ids()[0]
    for action, data in [
        ("approve", {}),
        ("reject", {"reason": "no"}),
        ("edit", {"text": "hi"}),
        ("snooze", {"duration": "1h"}),
        ("category", {"category": "praise"}),
        ("label", {"label": "not_about_us"}),
    ]:
        assert post(client, f"/drafts/{draft_id}/{action}", **data).status_code == 403, action
    assert client.get(f"/drafts/{draft_id}/edit").status_code == 403
    assert client.get("/admin").status_code == 403
    assert desk.listener.store.draft(draft_id).status.value == "pending"


def test_an_approver_approves_and_the_audit_names_them(desk: Desk) -> None:
    client = desk.signed_in("ann")
    draft_id = desk.pending_ids()[0]
    response = post(client, f"/drafts/{draft_id}/approve", next="/queue?brand=O2")
    assert response.status_code == 303
    assert response.headers["location"] == "/queue?brand=O2"
    draft = desk.listener.store.draft(draft_id)
    assert draft.status.value == "approved" and draft.approved_by == "ann"
    [record] = desk.listener.store.audit(entity="draft", entity_id=str(draft_id))
    assert (record.actor, record.action) == ("ann", "draft.approve")
    assert f"Draft {draft_id} approved." in client.get("/queue").text


def test_reject_needs_a_reason(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    post(client, f"/drafts/{draft_id}/reject", reason="  ")
    assert sqlite_desk.listener.store.draft(draft_id).status.value == "pending"
    assert "a rejection needs a reason" in client.get("/queue").text
    post(client, f"/drafts/{draft_id}/reject", reason="sarcasm")
    draft = sqlite_desk.listener.store.draft(draft_id)
    assert (draft.status.value, draft.reject_reason) == ("rejected", "sarcasm")


def test_an_edit_over_the_channel_limit_is_refused_with_the_count(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    before = sqlite_desk.listener.store.draft(draft_id).text
    response = post(client, f"/drafts/{draft_id}/edit", text="x" * 281)
    assert response.status_code == 422
    assert "the reply is 281 characters; x allows at most 280" in response.text
    assert "281</span> / 280 characters" in response.text
    assert sqlite_desk.listener.store.draft(draft_id).text == before


def test_an_edit_that_does_not_name_the_brand_is_refused_on_the_form(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    before = sqlite_desk.listener.store.draft(draft_id).text
    response = post(client, f"/drafts/{draft_id}/edit", text="Sorry! DM us.")
    assert response.status_code == 422 and "must name the brand" in response.text
    assert sqlite_desk.listener.store.draft(draft_id).text == before


def test_line_breaks_from_a_browser_are_stored_as_one_character(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    post(client, f"/drafts/{draft_id}/edit", text="Hello from O2\r\nthere")
    draft = sqlite_desk.listener.store.draft(draft_id)
    assert draft.text == "Hello from O2\nthere" and draft.edited_by == "ann"


def test_four_eyes_stops_an_editor_approving_their_own_edit(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(scoring={"model": "lexicon"}, outreach={"four_eyes": True})
    for desk in start_desk(seeded_listener(settings)):
        ann = desk.signed_in("ann")
        draft_id = desk.pending_ids()[0]
        post(ann, f"/drafts/{draft_id}/edit", text="Sorry, O2 is on it.")
        card = ann.get(f"/drafts/{draft_id}").text
        assert ">Approve<" not in card
        assert "another person must approve it" in card
        post(ann, f"/drafts/{draft_id}/approve")
        assert desk.listener.store.draft(draft_id).status.value == "pending"
        bob = desk.signed_in("bob")
        post(bob, f"/drafts/{draft_id}/approve")
        draft = desk.listener.store.draft(draft_id)
        assert (draft.status.value, draft.approved_by) == ("approved", "bob")


def test_snooze_sets_the_draft_aside(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    draft_id = sqlite_desk.pending_ids()[0]
    post(client, f"/drafts/{draft_id}/snooze", duration="1d")
    draft = sqlite_desk.listener.store.draft(draft_id)
    assert draft.status.value == "snoozed"
    assert draft.snoozed_until == sqlite_desk.listener.clock.now() + timedelta(days=1)
    assert f'id="draft-{draft_id}"' not in client.get("/queue").text
    assert f'id="draft-{draft_id}"' in client.get("/queue?status=snoozed").text


def test_reassigning_the_category_relabels_the_mention(desk: Desk) -> None:
    client = desk.signed_in("ann")
    draft_id = desk.pending_ids()[0]
    mention_id = desk.listener.store.draft(draft_id).mention_id
    post(client, f"/drafts/{draft_id}/category", category="outage")
    stored = desk.listener.store.mentions_by_ids([mention_id])[mention_id]
    assert stored.score.category.value == "outage"
    assert {"kind": "category", "value": "outage", "actor": "ann"}.items() <= (
        desk.listener.store.labels()[-1].items()
    )
    page = client.get("/queue?category=outage").text
    assert f'id="draft-{draft_id}"' in page


def test_not_about_us_cancels_the_reply_and_not_unhappy_is_a_label(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    first, second = sqlite_desk.pending_ids()[:2]
    post(client, f"/drafts/{first}/label", label="not_about_us")
    post(client, f"/drafts/{second}/label", label="not_unhappy")
    assert sqlite_desk.listener.store.draft(first).status.value == "cancelled"
    kinds = [(x["kind"], x["value"]) for x in sqlite_desk.listener.store.labels()]
    assert kinds == [("not_about_us", "true"), ("dissatisfied", "false")]


def test_acting_on_a_draft_that_changed_meanwhile_says_so(sqlite_desk: Desk) -> None:
    ann = sqlite_desk.signed_in("ann")
    bob = sqlite_desk.signed_in("bob")
    draft_id = sqlite_desk.pending_ids()[0]
    post(bob, f"/drafts/{draft_id}/reject", reason="duplicate")
    post(ann, f"/drafts/{draft_id}/approve")
    assert "is rejected; cannot approve it" in ann.get("/queue").text
    assert sqlite_desk.listener.store.draft(draft_id).status.value == "rejected"


def test_an_unknown_draft_is_a_404_page(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    assert client.get("/drafts/999999").status_code == 404
    assert post(client, "/drafts/999999/approve").status_code == 404


# the queue: order, filters, pages -----------------------------------------------------------


def test_the_queue_is_most_urgent_first_with_the_mention_behind_each_draft(desk: Desk) -> None:
    client = desk.signed_in("vic")
    page = client.get("/queue").text
    shown = [int(i) for i in re.findall(r'data-draft-id="(\d+)"', page)]
    drafts = {d.id: d for d in desk.listener.store.drafts(limit=100)}
    assert shown and set(shown) == set(drafts)
    priorities = [drafts[i].priority for i in shown]
    assert priorities == sorted(priorities, reverse=True)
    assert "Customer 4" in page and "followers" in page and "x-search" in page
    assert "dissatisfaction" in page and 'class="signals"' in page
    assert 'href="https://x.example/status/4" rel="noopener noreferrer"' in page


def test_pages_follow_a_cursor_without_repeating_or_skipping(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(scoring={"model": "lexicon"}, web={"page_size": 2})
    for desk in start_desk(seeded_listener(settings)):
        client = desk.signed_in("vic")
        seen: list[int] = []
        url = "/queue"
        while url:
            page = client.get(url).text
            seen.extend(int(i) for i in re.findall(r'data-draft-id="(\d+)"', page))
            found = re.search(r'href="(\?[^"]*after=[^"]+)" rel="next"', page)
            url = "/queue" + found.group(1).replace("&amp;", "&") if found else ""
        assert sorted(seen) == sorted(desk.pending_ids())
        assert len(seen) == len(set(seen))


def test_filters_narrow_the_queue(desk: Desk) -> None:
    client = desk.signed_in("vic")

    def ids(query: str) -> set[int]:
        return {int(i) for i in re.findall(r'data-draft-id="(\d+)"', client.get(query).text)}

    everything = ids("/queue")
    skyline = ids("/queue?brand=Skyline+Air")
    assert skyline and skyline < everything
    assert ids("/queue?q=luggage") == {
        d.id for d in desk.listener.store.drafts(limit=100) if "luggage" in d.text.lower()
    } | ids("/queue?q=LUGGAGE")
    assert ids("/queue?q=%25") == set()  # a LIKE wildcard is searched for literally
    assert ids("/queue?source=nowhere") == set()
    assert ids("/queue?status=approved") == set()


# escaping and headers -----------------------------------------------------------------------


def test_hostile_text_is_escaped_on_every_page(desk: Desk) -> None:
    client = desk.signed_in("ada")
    [hostile] = [d for d in desk.listener.store.drafts(limit=100) if d.recipient == "tweet-99"]
    post(client, f"/drafts/{hostile.id}/reject", reason=HOSTILE)
    pages = [
        "/queue?status=all",
        "/mentions",
        f"/drafts/{hostile.id}",
        "/overview",
        "/incidents",
        "/audit",
        "/admin",
        "/queue?q=" + HOSTILE,
    ]
    for path in pages:
        html = client.get(path).text
        assert "<script>alert(1)" not in html, path
        assert "<img src=x" not in html, path
        assert ">49<" not in html and " 49 " not in html, path
    queue = client.get("/queue?status=all").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in queue
    assert "&lt;img src=x onerror=alert(2)&gt;{{ 7*7 }}" in queue
    assert HOSTILE_AUTHOR not in queue


def test_only_http_links_are_linked(make_settings: Callable[..., Any]) -> None:
    bad = mention(
        50,
        "@O2 outage again, awful service, nothing works",
        url="javascript:alert(document.cookie)",
    )
    listener = seeded_listener(make_settings(scoring={"model": "lexicon"}), extra=[bad])
    for desk in start_desk(listener):
        html = desk.signed_in("vic").get("/mentions").text
        assert "javascript:" not in html


def test_every_response_carries_the_security_headers(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ada")
    for path in ["/login", "/queue", "/overview", "/admin", "/static/app.js", "/nope"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_script_or_event_handlers(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ada")
    for path in ["/login", "/queue", "/mentions", "/overview", "/audit", "/admin"]:
        html = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag, (path, tag)
        for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
            assert not re.search(r"\son[a-z]+\s*=", tag), (path, tag)
        assert "javascript:" not in html


def test_htmx_is_served_from_this_server(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    response = client.get("/static/htmx.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:200]
    head = client.get("/login").text.split("<body")[0]
    assert not re.search(r'(src|href)="(https?:)?//', head)  # no CDN: works offline


# admin and overview -------------------------------------------------------------------------


def test_admin_sees_users_and_settings_without_secrets(
    make_settings: Callable[..., Any], tmp_path: Any
) -> None:
    settings = make_settings(
        scoring={"model": "lexicon"},
        database={"url": f"sqlite:///{tmp_path / 'admin.db'}"},
    )
    for desk in start_desk(seeded_listener(settings)):
        page = desk.signed_in("ada").get("/admin").text
        for name in ["ann", "bob", "vic", "ada"]:
            assert f"<td>{name}</td>" in page
        assert "argon2" not in page
        assert "LISTENER_WEB_SECRET_KEY" in page  # the variable's name, never its value


def test_an_admin_adds_a_user_who_can_then_sign_in(sqlite_desk: Desk) -> None:
    admin = sqlite_desk.signed_in("ada")
    post(admin, "/admin/users", name="cat", role="approver", password="a long password")
    assert sign_in(sqlite_desk.client(), "cat", "a long password").status_code == 303
    post(admin, "/admin/users", name="dan", role="approver", password="short")
    assert "at least 8 characters" in admin.get("/admin").text


def test_the_overview_draws_volume_and_dissatisfied_share_per_brand(desk: Desk) -> None:
    page = desk.signed_in("vic").get("/overview?period=7d").text
    assert page.count("<svg") == 2
    assert "Mentions per 6 hours" in page and "Share of dissatisfied mentions" in page
    assert '<path class="series c0"' in page and "O2" in page and "Skyline Air" in page


def test_the_incidents_board_says_when_there_is_no_incident_data(sqlite_desk: Desk) -> None:
    page = sqlite_desk.signed_in("vic").get("/incidents")
    assert page.status_code == 200


def test_a_snoozed_draft_returns_to_the_queue_when_its_time_is_up(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    listener = sqlite_desk.listener
    draft_id = sqlite_desk.pending_ids()[0]
    post(client, f"/drafts/{draft_id}/snooze", duration="1h")
    [wake] = [job for job in listener.jobs if job.id == "drafts.wake"]
    assert wake.run() == []  # not yet
    listener.clock.advance_to(listener.clock.now() + timedelta(minutes=61))  # type: ignore[attr-defined]
    assert wake.run() == [draft_id]
    assert listener.store.draft(draft_id).status.value == "pending"
    assert f'id="draft-{draft_id}"' in client.get("/queue").text
    assert listener.store.audit(limit=1)[0].action == "draft.wake"


def test_the_mentions_feed_filters_and_labels(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in("ann")
    skyline = client.get("/mentions?brand=Skyline+Air").text
    ids = [int(i) for i in re.findall(r'id="mention-(\d+)"', skyline)]
    stored = sqlite_desk.listener.store.mentions_by_ids(ids)
    assert ids and {m.brand for m in stored.values()} == {"Skyline Air"}
    assert "luggage" in skyline and "O2 charged me twice" not in skyline
    post(client, f"/mentions/{ids[0]}/label", label="category", category="praise", next="/x")
    assert sqlite_desk.listener.store.mentions_by_ids([ids[0]])[ids[0]].score.category == "praise"
    post(client, f"/mentions/{ids[0]}/label", label="not_unhappy")
    assert not sqlite_desk.listener.store.mentions_by_ids([ids[0]])[ids[0]].score.dissatisfied
    happy = client.get("/mentions?mood=ok").text
    assert f'id="mention-{ids[0]}"' in happy
    assert f'id="mention-{ids[0]}"' not in client.get("/mentions?mood=unhappy").text
    assert f'id="mention-{ids[0]}"' in client.get("/mentions?category=praise").text


@pytest.fixture
def multilingual_desk(make_settings: Callable[..., Any]) -> Iterator[Desk]:
    extra = [
        mention(300, "@O2 la app no funciona desde hace tres días, pésimo servicio", lang="es"),
        mention(301, "@SkylineAir 又延误了三个小时，太糟糕了！"),  # language detected
    ]
    settings = make_settings(scoring={"model": "lexicon"})
    yield from start_desk(seeded_listener(settings, hostile=False, extra=extra))


def test_the_mentions_feed_shows_and_filters_by_language(multilingual_desk: Desk) -> None:
    client = multilingual_desk.signed_in("vic")
    chinese = client.get("/mentions", params={"lang": "zh"}).text
    assert len(re.findall(r'id="mention-(\d+)"', chinese)) == 1
    assert "又延误了三个小时" in chinese and '<p class="mention-text" lang="zh">' in chinese
    assert '<option value="zh" selected>Chinese</option>' in chinese
    spanish = client.get("/mentions", params={"lang": "ES"}).text
    assert "pésimo servicio" in spanish and "又延误" not in spanish
    everything = client.get("/mentions").text
    assert '<span class="lang" title="language">es</span>' in everything
    assert "pésimo servicio" in everything and "又延误" in everything
