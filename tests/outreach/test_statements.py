"""Crisis mode end to end: one holding statement per channel, approved by two crisis
approvers, posted once to X (a post of its own, not a reply) and once to the press list by
email; crisis replies to picked amplifiers, capped per incident. Real store (SQLite and
PostgreSQL), the fake X API and a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from listener.app import Listener
from listener.clock import ReplayClock
from listener.domain import Channel, DraftKind, DraftStatus, StatementStatus
from listener.errors import InvalidTransition, NotAllowed
from listener.outreach.crisis_desk import CrisisDesk
from listener.outreach.dispatch import Dispatcher
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from tests.support.crisis import PRESS, UPDATES, crisis_listener, crisis_settings
from tests.support.fakes.x_api import Failure, XApiServer
from tests.support.outreach import X_KEYS, SmtpServer


@pytest.fixture
def world(
    make_settings: Callable[..., Settings], db_url: str, x_api: XApiServer, smtp_server: SmtpServer
) -> Iterator[tuple[Listener, int, CrisisDesk]]:
    settings = crisis_settings(make_settings, db_url, x_url=x_api.url, smtp=smtp_server)
    listener, incident_id = crisis_listener(settings)
    yield listener, incident_id, CrisisDesk(listener.settings, listener.store, listener.clock)
    listener.close()


def dispatcher(listener: Listener) -> Dispatcher:
    return Dispatcher(listener.settings, listener.store, listener.clock, environ=dict(X_KEYS))


def statement_posts(x_api: XApiServer) -> list[dict[str, Any]]:
    return [
        r.body if isinstance(r.body, dict) else json.loads(r.body)
        for r in x_api.requests_to("post")
    ]


def test_a_statement_goes_out_once_per_channel_after_two_crisis_approvals(
    world: tuple[Listener, int, CrisisDesk], x_api: XApiServer, smtp_server: SmtpServer
) -> None:
    listener, incident_id, crisis = world
    on_x = crisis.draft(incident_id, Channel.X, actor="ann")
    by_email = crisis.draft(incident_id, Channel.EMAIL, actor="ann")
    assert "O2" in on_x.text and UPDATES in on_x.text and len(on_x.text) <= 280
    assert by_email.recipients == tuple(PRESS)
    assert crisis.note(on_x) == "needs two crisis approvers"

    with pytest.raises(NotAllowed, match="crisis approver"):
        crisis.approve(on_x.id, actor="cat", role="approver")
    for s in (on_x, by_email):
        first = crisis.approve(s.id, actor="ann", role="crisis")
        assert first.status is StatementStatus.DRAFT
        assert crisis.note(first) == "approved by ann; needs a second crisis approver"
        with pytest.raises(NotAllowed, match="second, different person"):
            crisis.approve(s.id, actor="ann", role="crisis")

    send = dispatcher(listener)
    try:
        send.run_once()  # one approval each: nothing goes out
        assert statement_posts(x_api) == [] and smtp_server.messages == []

        for s in (on_x, by_email):
            assert (
                crisis.approve(s.id, actor="bob", role="crisis").status is StatementStatus.APPROVED
            )
        report = send.run_once()
        assert set(report.statements_posted) == {on_x.id, by_email.id}

        [posted] = statement_posts(x_api)
        assert posted["text"] == on_x.text and "reply" not in posted  # a post, not a reply
        [mail] = smtp_server.messages
        assert set(smtp_server.inbox.envelopes[0][1]) == set(PRESS)
        assert mail["Subject"] == "Statement from O2" and UPDATES in mail.get_payload()

        # A second attempt, by the scheduled pass or by hand, does nothing.
        send.run_once()
        again = send.post_statement(on_x.id)
        send.post_statement(by_email.id)
        assert len(statement_posts(x_api)) == 1 and len(smtp_server.messages) == 1
    finally:
        send.close()
    assert again.status is StatementStatus.POSTED
    assert again.url == f"https://x.com/O2/status/{again.platform_id}"

    trail = [
        (r.actor, r.action)
        for r in reversed(listener.store.audit(entity="statement", entity_id=str(on_x.id)))
    ]
    assert trail[:3] == [
        ("ann", "statement.draft"),
        ("ann", "statement.approve"),
        ("bob", "statement.approve"),
    ]
    assert [a for _, a in trail[3:]] == ["statement.sending", "statement.posted"]


def test_a_rate_limited_statement_waits_for_its_retry_time_then_goes_once(
    world: tuple[Listener, int, CrisisDesk], x_api: XApiServer
) -> None:
    listener, incident_id, crisis = world
    on_x = crisis.draft(incident_id, Channel.X, actor="ann")
    crisis.approve(on_x.id, actor="ann", role="crisis")
    crisis.approve(on_x.id, actor="bob", role="crisis")
    reset = listener.clock.now() + timedelta(minutes=15)
    x_api.fail_next(Failure.rate_limited(reset=int(reset.timestamp())), endpoint="post")

    send = dispatcher(listener)
    try:
        report = send.run_once()
        waiting = listener.store.statements.get(on_x.id)
        assert waiting.status is StatementStatus.APPROVED
        assert waiting.next_attempt_at == reset and "next try" in waiting.hold_reason
        assert report.statements_waiting[on_x.id] == waiting.hold_reason
        assert x_api.posts == []  # refused: nothing is public

        send.run_once()  # too early: nothing is tried
        assert len(x_api.requests_to("post")) == 1

        assert isinstance(listener.clock, ReplayClock)
        listener.clock.advance_to(reset + timedelta(minutes=1))
        send.run_once()
        assert len(x_api.posts) == 1 and len(x_api.requests_to("post")) == 2
    finally:
        send.close()
    assert listener.store.statements.get(on_x.id).status is StatementStatus.POSTED
    actions = [
        r.action for r in reversed(listener.store.audit(entity="statement", entity_id=str(on_x.id)))
    ]
    assert actions[-4:] == [
        "statement.sending",
        "statement.send_retry",
        "statement.sending",
        "statement.posted",
    ]


def test_one_statement_per_channel_and_none_again_once_posted(
    world: tuple[Listener, int, CrisisDesk],
) -> None:
    _listener, incident_id, crisis = world
    first = crisis.draft(incident_id, Channel.MANUAL, actor="ann")
    with pytest.raises(InvalidTransition, match="already has a holding statement on manual"):
        crisis.draft(incident_id, Channel.MANUAL, actor="bob")
    crisis.cancel(first.id, actor="ann")  # never posted: the channel may be drafted again
    second = crisis.draft(incident_id, Channel.MANUAL, actor="bob")
    crisis.approve(second.id, actor="ann", role="crisis")
    crisis.approve(second.id, actor="ada", role="admin")
    done = crisis.posted(second.id, "https://forum.example/o2-statement", actor="ann")
    assert done.status is StatementStatus.POSTED
    with pytest.raises(InvalidTransition):
        crisis.cancel(second.id, actor="ann")
    with pytest.raises(InvalidTransition):
        crisis.redraft(second.id, actor="ann")
    with pytest.raises(InvalidTransition, match="one per channel"):
        crisis.draft(incident_id, Channel.MANUAL, actor="bob")


def test_an_edit_clears_both_approvals_and_its_author_cannot_approve(
    world: tuple[Listener, int, CrisisDesk],
) -> None:
    _listener, incident_id, crisis = world
    s = crisis.draft(incident_id, Channel.X, actor="ann")
    crisis.approve(s.id, actor="ann", role="crisis")
    edited = crisis.edit(
        s.id, "O2: we know of reports of a network problem. Updates soon.", actor="bob"
    )
    assert (edited.first_approved_by, edited.approved_by, edited.edited_by) == ("", "", "bob")
    with pytest.raises(NotAllowed, match="last edited by bob"):
        crisis.approve(s.id, actor="bob", role="crisis")
    with pytest.raises(NotAllowed, match="name the brand"):
        crisis.edit(s.id, "We are looking into it.", actor="bob")
    crisis.approve(s.id, actor="ann", role="crisis")
    assert crisis.approve(s.id, actor="ada", role="admin").status is StatementStatus.APPROVED


def test_a_claim_is_taken_once_and_a_stuck_post_goes_to_a_person(
    world: tuple[Listener, int, CrisisDesk], x_api: XApiServer
) -> None:
    listener, incident_id, crisis = world
    s = crisis.draft(incident_id, Channel.X, actor="ann")
    crisis.approve(s.id, actor="ann", role="crisis")
    crisis.approve(s.id, actor="bob", role="crisis")
    now = listener.clock.now()
    claimed = listener.store.statements.claim(s.id, instance="gone-host:1:x", at=now)
    assert claimed is not None and claimed.status is StatementStatus.SENDING
    assert listener.store.statements.claim(s.id, instance="other", at=now) is None

    listener.clock.advance_to(now + listener.settings.outreach.stuck_after + timedelta(seconds=1))
    send = dispatcher(listener)
    try:
        report = send.run_once()
        assert s.id in report.statements_failed
        send.run_once()
    finally:
        send.close()
    after = listener.store.statements.get(s.id)
    assert after.status is StatementStatus.FAILED and after.needs_check
    assert statement_posts(x_api) == []  # never posted again automatically
    checked = crisis.posted(s.id, "https://x.com/O2/status/1", actor="ann")
    assert checked.status is StatementStatus.POSTED


def test_crisis_replies_point_to_the_statement_are_capped_and_need_crisis_approval(
    make_settings: Callable[..., Settings], db_url: str, x_api: XApiServer
) -> None:
    settings = crisis_settings(make_settings, db_url, x_url=x_api.url, crisis_replies_max=2)
    listener, incident_id = crisis_listener(settings)
    crisis = CrisisDesk(listener.settings, listener.store, listener.clock)
    try:
        amplifiers = [a["author"] for a in listener.store.incidents.detail(incident_id).amplifiers]
        assert len(amplifiers) >= 3
        with pytest.raises(NotAllowed, match="at most 2 crisis replies"):
            crisis.reply_to(incident_id, amplifiers[:3], actor="ann")
        assert crisis.crisis_replies(incident_id) == []  # all or none
        with pytest.raises(NotAllowed, match="no mention in incident"):
            crisis.reply_to(incident_id, ["@stranger"], actor="ann")

        made = crisis.reply_to(incident_id, amplifiers[:2], actor="ann")
        assert [d.kind for d in made] == [DraftKind.CRISIS, DraftKind.CRISIS]
        assert all(UPDATES in d.text and "O2" in d.text for d in made)
        with pytest.raises(NotAllowed, match="at most 2"):
            crisis.reply_to(incident_id, amplifiers[2:3], actor="ann")

        reply = made[0]
        store, now = listener.store, listener.clock.now()
        with pytest.raises(NotAllowed, match="crisis approver"):
            store.review(reply.id, ReviewAction.APPROVE, actor="cat", at=now, role="approver")
        first = store.review(reply.id, ReviewAction.APPROVE, actor="ann", at=now, role="crisis")
        assert first.status is DraftStatus.PENDING and first.first_approved_by == "ann"
        final = store.review(reply.id, ReviewAction.APPROVE, actor="bob", at=now, role="crisis")
        assert final.status is DraftStatus.APPROVED

        send = dispatcher(listener)
        try:
            report = send.run_once()
        finally:
            send.close()
        assert reply.id in report.sent  # through the normal send path, as a reply
        [body] = statement_posts(x_api)
        assert body["reply"]["in_reply_to_tweet_id"] == reply.recipient
    finally:
        listener.close()
