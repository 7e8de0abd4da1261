"""Who may do what on the review desk: password and token hashing, roles, CSRF, sign-in limits.

Passwords are hashed with argon2id (argon2-cffi's defaults); API tokens are 256-bit random
values stored as SHA-256 hashes. Sessions are signed cookies (Starlette's SessionMiddleware,
itsdangerous) keyed by a secret from the environment, or one generated once and kept in the
database. Every form and POST carries a token bound to the session (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from listener.app import Listener
from listener.store import WebUser

log = logging.getLogger("listener.web")

_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
SECRET_NAME = "web_session"
MIN_PASSWORD_LENGTH = 8


class Role(StrEnum):
    """viewer reads; approver also edits, approves, rejects, labels; crisis also approves what
    is said during an incident (holding statements, crisis replies, releasing held replies);
    admin also manages users."""

    VIEWER = "viewer"
    APPROVER = "approver"
    CRISIS = "crisis"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.APPROVER: 1, Role.CRISIS: 2, Role.ADMIN: 3}


def role_of(user: WebUser) -> Role:
    return Role(user.role)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        from listener.errors import NotAllowed

        raise NotAllowed(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing account still costs one full verification."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_api_token() -> tuple[str, str]:
    """A fresh token (shown once) and the hash to store."""
    token = "lst_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: object, given: object) -> bool:
    if not isinstance(expected, str) or not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def session_secret(listener: Listener, environ: Mapping[str, str]) -> str:
    """The key that signs session cookies: from the environment, else generated and stored.

    A stored key survives restarts and is shared by instances on the same database; the
    warning says how to provide one explicitly.
    """
    name = listener.settings.web.secret_key_env
    value = environ.get(name, "").strip() if name else ""
    if value:
        if len(value) < 32:
            log.warning("%s is shorter than 32 characters; use a longer random secret", name)
        return value
    log.warning(
        "%s is not set; signing sessions with a random secret generated once and kept in the "
        "database (set %s to manage it yourself)",
        name or "web.secret_key_env",
        name or "the variable named by web.secret_key_env",
    )
    return listener.store.users.secret(SECRET_NAME, listener.clock.now())


class LoginLimiter:
    """At most `attempts` failed sign-ins per (user name, client address) per `window` seconds.

    Kept in memory: a restart forgets it, which is acceptable for slowing down guessing.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until another try is allowed; 0 when it is allowed now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent((name.lower(), address), now)
            if len(failures) < self.attempts:
                return 0.0
            return max(failures[0] + self.window - now, 1.0)

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            self._recent((name.lower(), address), time.monotonic()).append(time.monotonic())
            if len(self._failures) > 10_000:  # bound memory under a spray of names
                self._failures = {k: v for k, v in self._failures.items() if v}

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)
