"""Approved replies go out once: on X through tweepy to a local X-shaped server, by email to a
local SMTP server, and by hand for places with no API. Errors are handled and shown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from listener.domain import DraftStatus
from listener.errors import NotAllowed
from listener.settings import Settings
from tests.support.fakes.x_api import DUPLICATE_CONTENT, Failure, XApiServer
from tests.support.outreach import (
    NOW,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    World,
    email_mention,
    forum_mention,
    x_mention,
)

WorldFactory = Callable[..., World]


@pytest.fixture
def settings(make_settings: Callable[..., Settings], x_api: XApiServer) -> Settings:
    return make_settings(x_publish={"api_url": x_api.url, "timeout": "5s"})


def test_an_approved_reply_is_posted_once_in_reply_to_the_mention(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    dana = x_api.add_user("dana")
    mention = x_mention(x_api, dana, "@O2 no signal for two days, useless")
    (draft,) = world.ingest(mention)
    world.approve(draft)

    report = world.dispatcher().run_once()
    again = world.dispatcher().run_once()

    (post,) = x_api.posts
    assert post.in_reply_to_tweet_id == mention.external_id and post.text == draft.text
    sent = world.draft(draft.id)
    assert sent.status is DraftStatus.SENT and sent.platform_id == post.id
    assert sent.sent_at == NOW and report.sent == {draft.id: post.id}
    assert again.sent == {} and len(x_api.requests_to("post")) == 1
    # User-context OAuth 1.0a, as create_tweet requires (a bearer token cannot post).
    assert x_api.requests_to("post")[0].headers["authorization"].startswith("OAuth ")
    actions = [r.action for r in world.store.audit(entity="draft", entity_id=str(draft.id))]
    assert actions[:2] == ["draft.sent", "draft.sending"]


def test_pending_drafts_are_never_sent(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    world.ingest(x_mention(x_api, x_api.add_user("eve"), "@O2 awful service"))
    world.dispatcher().run_once()
    assert x_api.requests_to("post") == [] and world.statuses() == [DraftStatus.PENDING]


def test_a_duplicate_403_is_shown_as_probably_posted_for_a_person_to_check(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("fay"), "@O2 my bill is wrong"))
    world.approve(draft)
    x_api.fail_next(Failure.forbidden(DUPLICATE_CONTENT), endpoint="post")

    report = world.dispatcher().run_once()
    world.dispatcher().run_once()

    failed = world.draft(draft.id)
    assert failed.status is DraftStatus.FAILED and failed.needs_check
    assert "duplicate content" in failed.error and "Check the conversation on X" in failed.error
    assert draft.id in report.needs_check
    assert len(x_api.requests_to("post")) == 1  # never retried by itself

    # A person looks on X, finds it there and records it.
    checked = world.dispatcher().mark_sent(draft.id, actor="ann", platform_id="12345")
    assert checked.status is DraftStatus.SENT and checked.platform_id == "12345"
    assert not checked.needs_check


def test_a_429_puts_the_reply_back_with_a_retry_time_then_it_goes_once(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("gus"), "@O2 still no refund"))
    world.approve(draft)
    reset = NOW + timedelta(minutes=15)
    x_api.fail_next(Failure.rate_limited(reset=int(reset.timestamp())), endpoint="post")

    report = world.dispatcher().run_once()
    waiting = world.draft(draft.id)
    assert waiting.status is DraftStatus.APPROVED and waiting.next_attempt_at == reset
    assert "429" in waiting.hold_reason and draft.id in report.retrying
    assert x_api.posts == []

    world.dispatcher().run_once()  # too early: nothing is tried
    assert len(x_api.requests_to("post")) == 1

    world.advance(minutes=16)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 1 and world.draft(draft.id).status is DraftStatus.SENT
    # The refused attempt did not count against the author's frequency cap.
    assert world.draft(draft.id).hold_reason == ""


def test_other_x_refusals_fail_with_the_platforms_words(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("hal"), "@O2 terrible"))
    world.approve(draft)
    x_api.fail_next(Failure.forbidden("You cannot reply to this conversation."), endpoint="post")
    report = world.dispatcher().run_once()
    failed = world.draft(draft.id)
    assert failed.status is DraftStatus.FAILED and not failed.needs_check
    assert "You cannot reply to this conversation." in failed.error
    assert draft.id in report.failed
    # Certainly not delivered, so it does not count against the author's cap: reopened and
    # approved again, it goes out straight away.
    from listener.outreach.review import ReviewAction

    world.store.review(draft.id, ReviewAction.REOPEN, actor="ann", at=NOW)
    world.approve(draft)
    world.dispatcher().run_once()
    assert world.draft(draft.id).status is DraftStatus.SENT and len(x_api.posts) == 1


def test_refused_credentials_hold_every_reply_on_the_channel(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
    make_settings: Callable[..., Settings],
) -> None:
    # Both replies come from one template; the echo check (tests/outreach/test_crisis_mode.py)
    # is off so that both are sent once the credentials are fixed.
    world = world_factory(
        make_settings(
            x_publish={"api_url": x_api.url, "timeout": "5s"}, outreach={"echo_window": "0s"}
        )
    )
    drafts = world.ingest(
        x_mention(x_api, x_api.add_user("ida"), "@O2 terrible"),
        x_mention(x_api, x_api.add_user("jon"), "@O2 dreadful"),
    )
    world.approve(*drafts)
    x_api.fail_next(Failure.unauthorized(), endpoint="post")
    report = world.dispatcher().run_once()
    assert len(x_api.requests_to("post")) == 1  # the second is not even tried
    for draft in drafts:
        waiting = world.draft(draft.id)
        assert waiting.status is DraftStatus.APPROVED
        assert "X rejected the credentials (401)" in waiting.hold_reason
    assert report.failed == {} and len(report.retrying) == len(report.held) == 1
    world.advance(minutes=15, seconds=1)
    world.dispatcher().run_once()
    assert world.statuses() == [DraftStatus.SENT, DraftStatus.SENT]


def test_a_server_error_while_posting_is_never_retried_blindly(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("ian"), "@O2 dreadful"))
    world.approve(draft)
    x_api.fail_next(Failure.server_error(503), endpoint="post")
    world.dispatcher().run_once()
    world.dispatcher().run_once()
    failed = world.draft(draft.id)
    assert failed.status is DraftStatus.FAILED and failed.needs_check
    assert "may or may not" in failed.error
    assert len(x_api.requests_to("post")) == 1


def test_without_user_context_keys_replies_wait_and_say_which_variables_to_set(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    world = world_factory(settings, environ={})
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("jo"), "@O2 so slow"))
    world.approve(draft)
    report = world.dispatcher().run_once()
    waiting = world.draft(draft.id)
    assert waiting.status is DraftStatus.APPROVED
    assert "LISTENER_X_CONSUMER_KEY" in waiting.hold_reason and draft.id in report.held
    assert x_api.requests == []


def test_email_replies_go_over_smtp_with_an_unsubscribe_header(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
) -> None:
    settings = make_settings(
        email={
            "sender": "care@o2.example",
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "timeout": "5s",
        }
    )
    world = world_factory(settings, environ={})
    (draft,) = world.ingest(email_mention(1, "kim@example.org"))
    assert draft.channel.value == "email" and draft.recipient == "kim@example.org"
    world.approve(draft)

    report = world.dispatcher().run_once()
    world.dispatcher().run_once()

    (message,) = smtp_server.messages
    assert message["To"] == "kim@example.org" and "care@o2.example" in message["From"]
    assert message["List-Unsubscribe"] == "<mailto:care@o2.example?subject=STOP>"
    assert message.get_payload(decode=True).decode().strip() == draft.text  # type: ignore[union-attr]
    sent = world.draft(draft.id)
    assert sent.status is DraftStatus.SENT and sent.platform_id == message["Message-ID"]
    assert report.sent == {draft.id: message["Message-ID"]}


def test_an_unreachable_mail_server_means_try_again_later(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(
        email={"sender": "care@o2.example", "smtp_host": "127.0.0.1", "smtp_port": port}
    )
    world = world_factory(settings, environ={})
    (draft,) = world.ingest(email_mention(2, "lee@example.org"))
    world.approve(draft)
    report = world.dispatcher().run_once()
    waiting = world.draft(draft.id)
    assert waiting.status is DraftStatus.APPROVED and draft.id in report.retrying
    assert "cannot reach the mail server" in waiting.hold_reason
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > NOW


def test_manual_replies_wait_for_a_person_to_mark_them_sent(
    world_factory: WorldFactory,
    settings: Settings,
) -> None:
    world = world_factory(settings)
    (draft,) = world.ingest(forum_mention(1, "mo"))
    assert draft.channel.value == "manual" and draft.recipient == "https://forum.example/t/1"
    world.approve(draft)
    world.dispatcher().run_once()
    assert world.draft(draft.id).status is DraftStatus.APPROVED  # nobody posts it for us

    done = world.dispatcher().mark_sent(draft.id, actor="ann", platform_id="forum#p12")
    assert done.status is DraftStatus.SENT and done.platform_id == "forum#p12"
    with pytest.raises(NotAllowed, match="only an approved manual reply"):
        world.dispatcher().mark_sent(draft.id, actor="ann")


def test_retry_after_the_reset_time_the_platform_sends(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    """A 429 without a reset header still gets a retry time (a minute), never a busy loop."""
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("ned"), "@O2 grim"))
    world.approve(draft)
    x_api.fail_next(Failure.rate_limited(reset=None), endpoint="post")
    world.dispatcher().run_once()
    assert world.draft(draft.id).next_attempt_at == NOW + timedelta(minutes=1)
    world.clock.advance_to(datetime(2026, 3, 9, 10, 1, 1, tzinfo=UTC))
    world.dispatcher().run_once()
    assert world.draft(draft.id).status is DraftStatus.SENT and len(x_api.posts) == 1


def test_the_service_dispatches_on_its_own_timer(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    settings = make_settings(x_publish={"api_url": x_api.url}, outreach={"dispatch_every": "15s"})
    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("pam"), "@O2 awful"))
    world.approve(draft)
    (job,) = [j for j in world.listener.jobs if j.id == "dispatch"]
    assert job.every == timedelta(seconds=15)
    job.run()
    assert world.draft(draft.id).status is DraftStatus.SENT and len(x_api.posts) == 1


def test_after_checking_a_person_can_reword_and_send_it_again(
    world_factory: WorldFactory,
    settings: Settings,
    x_api: XApiServer,
) -> None:
    from listener.outreach.review import ReviewAction

    world = world_factory(settings)
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("rae"), "@O2 no data"))
    world.approve(draft)
    x_api.fail_next(Failure.forbidden(DUPLICATE_CONTENT), endpoint="post")
    world.dispatcher().run_once()
    # Not on X after all: reopen, reword, approve again.
    world.store.review(draft.id, ReviewAction.REOPEN, actor="ann", at=NOW)
    world.store.review(
        draft.id,
        ReviewAction.EDIT,
        actor="ann",
        at=NOW,
        text="@rae sorry from O2! Reply STOP to opt out.",
    )
    reopened = world.draft(draft.id)
    world.store.review(draft.id, ReviewAction.APPROVE, actor="bob", at=NOW)
    world.dispatcher().run_once()
    # The doubtful attempt may have reached them, so it counts against the frequency cap.
    assert "frequency cap" in world.draft(draft.id).hold_reason
    world.advance(hours=24, seconds=1)
    world.dispatcher().run_once()
    sent = world.draft(draft.id)
    assert reopened.status is DraftStatus.PENDING
    assert sent.status is DraftStatus.SENT and not sent.needs_check and sent.error == ""
    assert [p.text for p in x_api.posts] == ["@rae sorry from O2! Reply STOP to opt out."]


def test_email_logs_in_with_the_password_from_the_environment(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
) -> None:
    email = {
        "sender": "care@o2.example",
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "username": SMTP_USER,
        "password_env": "O2_SMTP_PASSWORD",
    }
    # Both replies come from one template: the echo check is off (tested on its own).
    world = world_factory(make_settings(email=email, outreach={"echo_window": "0s"}), environ={})
    first, second = world.ingest(
        email_mention(3, "una@example.org"), email_mention(4, "val@example.org")
    )
    world.approve(first, second)

    # No password in the environment: the channel waits and says which variable to set.
    report = world.dispatcher(environ={}).run_once()
    assert "O2_SMTP_PASSWORD holds no password" in report.held[first.id]
    # A wrong password is refused by the server: every email reply waits, saying what to check.
    world.dispatcher(environ={"O2_SMTP_PASSWORD": "wrong"}).run_once()
    for draft in (first, second):
        refused = world.draft(draft.id)
        assert refused.status is DraftStatus.APPROVED
        assert "refused the login of 'care-bot': check O2_SMTP_PASSWORD" in refused.hold_reason
    world.advance(minutes=16)
    world.dispatcher(environ={"O2_SMTP_PASSWORD": SMTP_PASSWORD}).run_once()
    assert world.statuses() == [DraftStatus.SENT, DraftStatus.SENT]
    assert sorted(m["To"] for m in smtp_server.messages) == ["una@example.org", "val@example.org"]


def test_an_idle_pass_needs_no_write_lock(
    world_factory: WorldFactory,
    settings: Settings,
) -> None:
    """Every instance dispatches every 30 s: with nothing to send it must not queue for the
    SQLite write lock behind ingestion."""
    import sqlite3
    import threading

    world = world_factory(settings)
    path = settings.database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # someone else is writing, for longer than a pass
    try:
        done = threading.Event()
        thread = threading.Thread(target=lambda: (world.dispatcher().run_once(), done.set()))
        thread.start()
        thread.join(timeout=10)
        assert done.is_set()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join()
