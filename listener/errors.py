"""The few exception types listener raises, each with a message a user can act on.

    ListenerError                      root: catch this to catch everything of ours
    ├── SettingsError(ValueError)      bad settings; the message names key, value, expectation
    ├── SourceError(RuntimeError)      one source could not be polled; the others go on
    │   ├── RateLimited                the platform asked us to wait until `retry_at`
    │   └── SourceDisabled             cannot run as configured (no credentials); skipped
    ├── StoreError(RuntimeError)       the database refused or is unreachable
    ├── NotFound(LookupError)          an id that does not exist (draft, incident, user ...)
    ├── InvalidTransition(ValueError)  e.g. approving a draft that was already sent
    ├── NotAllowed(PermissionError)    opt-out, frequency cap, quiet hours, four-eyes, role
    └── DispatchError(RuntimeError)    a channel could not deliver; the outbox retries

SDK exceptions (tweepy, httpx, SQLAlchemy) are wrapped at the edge with `raise ... from e`, so
callers only ever need to know these.
"""

from __future__ import annotations

from datetime import datetime


class ListenerError(Exception):
    """Root of every error listener raises on purpose."""


class SettingsError(ListenerError, ValueError):
    """The settings cannot be used; the message says which key and what is expected."""


class SourceError(ListenerError, RuntimeError):
    """A source could not be fetched or parsed; recorded as that source's last error."""


class RateLimited(SourceError):
    """The platform rate-limited us; do not poll this source again before `retry_at`."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SourceDisabled(SourceError):
    """The source cannot run as configured (e.g. no credentials); the service runs without it."""


class StoreError(ListenerError, RuntimeError):
    """The database could not do what was asked (unreachable, locked, full, busy)."""


class NotFound(ListenerError, LookupError):
    """No record with that id."""


class InvalidTransition(ListenerError, ValueError):
    """The record is not in a state that allows this action."""


class NotAllowed(ListenerError, PermissionError):
    """A rule forbids this action: opt-out, do-not-contact, cap, quiet hours, role, four-eyes."""


class DispatchError(ListenerError, RuntimeError):
    """A channel failed to deliver a message; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
