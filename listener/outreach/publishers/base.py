"""The Publisher protocol and the three ways a send can go wrong.

    DispatchError(retryable=False)   refused; certainly not delivered (bad address, 401 ...)
    DispatchError(retryable=True)    certainly not delivered (could not connect); try later
    ├── RetryLater                   the platform asked us to wait until `retry_at` (429)
    ├── ChannelUnusable              credentials refused: nothing on this channel can go out
    └── OutcomeUnknown               it may have been delivered (timeout after sending, 5xx):
        └── AlreadyPosted            the platform says this exact text is already posted

The dispatcher never retries an `OutcomeUnknown` by itself: at most once in public.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from listener.domain import Channel, Draft, Mention, Statement
from listener.errors import DispatchError

__all__ = ["AlreadyPosted", "ChannelUnusable", "OutcomeUnknown", "Publisher", "RetryLater"]


class Publisher(Protocol):
    """Delivers one approved reply; returns the platform's id of what it posted or sent."""

    channel: Channel

    def publish(self, draft: Draft, mention: Mention) -> str: ...

    def close(self) -> None: ...


class StatementPublisher(Protocol):
    """A channel that can also post an incident's holding statement: a post from the brand,
    not a reply. Returns (platform id, a link to it or "")."""

    channel: Channel

    def post_statement(
        self, statement: Statement, speaks_as: str, handle: str
    ) -> tuple[str, str]: ...


class RetryLater(DispatchError):
    """The platform refused for now (rate limit); nothing was delivered."""

    def __init__(self, message: str, retry_at: datetime | None) -> None:
        super().__init__(message, retryable=True)
        self.retry_at = retry_at


class ChannelUnusable(DispatchError):
    """The channel itself is broken (e.g. credentials refused); nothing was delivered.

    Every reply on the channel waits until it is fixed, instead of each one failing.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class OutcomeUnknown(DispatchError):
    """The message may or may not have been delivered; a person must check the platform."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class AlreadyPosted(OutcomeUnknown):
    """The platform refused the text as a duplicate: most likely an earlier attempt posted it."""
