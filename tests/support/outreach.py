"""What the outreach tests share: a listener wired to a fake X API, a local SMTP server, helpers.

Everything is real except the scorer, which is a hand-written fake passed through
`make_listener` (the tests here are about what happens after a reply is drafted, not about
scoring), and the clock, which only moves when a test says so.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import Category, Draft, DraftStatus, Mention, Score, Signal
from listener.outreach.dispatch import Dispatcher
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from listener.store import DraftFilter
from tests.support.fakes.x_api import XApiServer, XUser

# Monday 10:00 UTC: outside any quiet hours the tests set unless they mean to.
NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
SMTP_USER = "care-bot"
SMTP_PASSWORD = "s3cret-for-tests"
X_KEYS = {
    "LISTENER_X_CONSUMER_KEY": "ck",
    "LISTENER_X_CONSUMER_SECRET": "cs",
    "LISTENER_X_ACCESS_TOKEN": "at",
    "LISTENER_X_ACCESS_TOKEN_SECRET": "ats",
}


class UnhappyScorer:
    """Every mention is an unhappy complaint: each one gets a reply draft."""

    version = "test-unhappy"

    def score_batch(self, mentions: Sequence[Mention]) -> list[Score]:
        return [
            Score(0.9, True, 0.1, Category.COMPLAINT, None, (Signal("test", 0.9),), self.version)
            for _ in mentions
        ]


def x_mention(x_api: XApiServer, user: XUser, text: str) -> Mention:
    """A post on the fake X server, as the X source would deliver it."""
    tweet = x_api.add_tweet(text, author=user)
    return Mention(
        source="x-o2",
        external_id=tweet.id,
        text=text,
        author=f"@{user.username}",
        author_name=user.name,
        url=f"https://x.com/{user.username}/status/{tweet.id}",
        source_kind="x",
        published_at=NOW,
    )


def email_mention(number: int, address: str, text: str = "O2 billed me twice!") -> Mention:
    return Mention(
        source="support-inbox",
        external_id=f"mail-{number}",
        text=text,
        title="Billed twice",
        author=address,
        author_email=address,
        source_kind="feed",
        published_at=NOW,
    )


def forum_mention(number: int, author: str, text: str = "O2 lost my parcel, awful") -> Mention:
    return Mention(
        source="forum",
        external_id=f"forum-{number}",
        text=text,
        url=f"https://forum.example/t/{number}",
        author=author,
        source_kind="feed",
        published_at=NOW,
    )


@dataclass
class World:
    """A listener on a real database, its clock, and the fakes it talks to."""

    listener: Listener
    clock: ReplayClock
    environ: dict[str, str]
    dispatchers: list[Dispatcher] = field(default_factory=list)

    @property
    def store(self) -> Any:
        return self.listener.store

    def ingest(self, *mentions: Mention) -> list[Draft]:
        self.listener.pipeline.ingest(list(mentions), now=self.clock.now())
        return self.drafts()

    def drafts(self, status: str = "all") -> list[Draft]:
        found = self.store.drafts(DraftFilter(status=status), limit=1000)
        return sorted(found, key=lambda d: d.id)

    def draft(self, draft_id: int) -> Draft:
        return self.store.draft(draft_id)  # type: ignore[no-any-return]

    def approve(self, *drafts: Draft) -> None:
        for draft in drafts:
            self.store.review(draft.id, ReviewAction.APPROVE, actor="ann", at=self.clock.now())

    def dispatcher(self, **kwargs: Any) -> Dispatcher:
        dispatcher = Dispatcher(
            self.listener.settings,
            self.store,
            self.clock,
            environ=kwargs.pop("environ", self.environ),
            **kwargs,
        )
        self.dispatchers.append(dispatcher)
        return dispatcher

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.clock.advance_to(self.clock.now() + timedelta(**delta))

    def statuses(self) -> list[DraftStatus]:
        return [d.status for d in self.drafts()]


def build_world(
    settings: Settings, environ: dict[str, str] | None = None, start: datetime = NOW
) -> World:
    clock = ReplayClock(start)
    env = dict(X_KEYS if environ is None else environ)
    listener = make_listener(settings, scorer=UnhappyScorer(), clock=clock, sources=[], environ=env)
    return World(listener, clock, env)


@pytest.fixture
def world_factory() -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(settings: Settings, environ: dict[str, str] | None = None) -> World:
        world = build_world(settings, environ)
        made.append(world)
        return world

    yield make
    for world in made:
        for dispatcher in world.dispatchers:
            dispatcher.close()
        world.listener.close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.messages.append(message_from_bytes(content))
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    @property
    def messages(self) -> list[Message]:
        with self.inbox.lock:
            return list(self.inbox.messages)


def smtp_authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == SMTP_PASSWORD.encode()
    )
    # handled=False: the server answers 535 itself (handled=True would leave the client waiting)
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    It offers AUTH (SMTP_USER / SMTP_PASSWORD) without TLS, so the login path can be tested
    without certificates; unauthenticated senders are accepted too.
    """
    inbox = Inbox()
    # aiosmtpd checks it is up by connecting to the port it was given, so port 0 cannot be
    # used: ask the OS for a free port first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=smtp_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
