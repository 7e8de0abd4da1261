"""The incidents board, built on incident storage: an incident opened by the real pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.web import INCIDENT_RULES, loud_mention, seeded_listener
from tests.web.test_web import Desk, post, start_desk


@pytest.fixture
def desk(make_settings: Callable[..., Any], db_url: str) -> Iterator[Desk]:
    settings = make_settings(
        database={"url": db_url},
        scoring={"model": "lexicon"},
        incidents=INCIDENT_RULES,
    )
    yield from start_desk(seeded_listener(settings, extra=[loud_mention()]))


def incident_id(desk: Desk) -> int:
    page = desk.signed_in("vic").get("/incidents").text
    found = re.findall(r'id="incident-(\d+)"', page)
    assert found, page
    return int(found[0])


def test_the_board_shows_the_open_incident_with_its_amplifier(desk: Desk) -> None:
    client = desk.signed_in("vic")
    board = client.get("/incidents").text
    assert 'class="severity' in board and "O2" in board
    number = incident_id(desk)
    page = client.get(f"/incidents/{number}").text
    assert "@bigvoice" in page and "900k" in page
    assert "Timeline" in page and "opened" in page.lower()
    assert "Big Voice" in page  # the linked mention
    assert "<script>alert(1)" not in board + page
    assert ">Acknowledge<" not in page  # a viewer reads only


def test_an_approver_acknowledges_then_closes_and_both_are_audited(desk: Desk) -> None:
    number = incident_id(desk)
    ann = desk.signed_in("ann")
    assert post(ann, f"/incidents/{number}/acknowledge").status_code == 303
    assert "acknowledged by ann" in ann.get("/incidents").text
    post(ann, f"/incidents/{number}/close", reason="network fixed")
    assert f'id="incident-{number}"' not in ann.get("/incidents").text
    assert f'id="incident-{number}"' in ann.get("/incidents?show=all").text
    audit = ann.get("/audit").text
    assert "network fixed" in audit
    assert post(desk.signed_in("vic"), f"/incidents/{number}/close").status_code == 403


def test_the_queue_and_feed_filter_by_incident(desk: Desk) -> None:
    number = incident_id(desk)
    client = desk.signed_in("vic")
    feed = client.get(f"/mentions?incident={number}").text
    assert "Big Voice" in feed and "Customer 1" not in feed
    queue = client.get(f"/queue?incident={number}&status=all").text
    assert "Customer 1" not in queue


def test_the_overview_marks_the_incident_on_the_time_axis(desk: Desk) -> None:
    page = desk.signed_in("vic").get("/overview?period=7d").text
    number = incident_id(desk)
    assert 'class="incident-mark"' in page
    assert f'href="/incidents/{number}"' in page


def test_the_api_lists_incidents(desk: Desk) -> None:
    import httpx

    from tests.web.test_web_api import token_for

    token = token_for(desk.listener, "vic")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=desk.server.url, headers=headers) as client:
        body = client.get("/api/incidents").json()
        assert body["available"] is True
        [found] = body["items"]
        detail = client.get(f"/api/incidents/{found['id']}").json()
        assert detail["amplifiers"][0]["author"] == "@bigvoice"
