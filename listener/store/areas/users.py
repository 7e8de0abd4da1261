"""Review desk accounts and the desk's stored secrets (`store.users`)."""

from __future__ import annotations

from datetime import datetime

from listener.store import audit, users
from listener.store.areas.base import Area
from listener.store.users import WebUser


class Users(Area):
    def add(self, *, name: str, role: str, password_hash: str, actor: str, at: datetime) -> WebUser:
        with self._store._write() as conn:
            return users.add_user(
                conn, name=name, role=role, password_hash=password_hash, actor=actor, at=at
            )

    def end_sessions(self, name: str, *, actor: str, at: datetime, why: str) -> None:
        """Every session cookie issued to `name` so far stops working (sign-out)."""
        with self._store._write() as conn:
            users.end_sessions(conn, name, actor=actor, at=at, why=why)

    def by_name(self, name: str) -> WebUser | None:
        with self._store._read() as conn:
            return users.find_user(conn, name)

    def by_token_hash(self, token_hash: str) -> WebUser | None:
        with self._store._read() as conn:
            return users.user_by_token_hash(conn, token_hash)

    def all(self) -> list[WebUser]:
        with self._store._read() as conn:
            return users.list_users(conn)

    def set_api_token_hash(self, name: str, token_hash: str, *, actor: str, at: datetime) -> None:
        with self._store._write() as conn:
            users.set_api_token_hash(conn, name, token_hash, actor=actor, at=at)

    def set_password_hash(self, name: str, password_hash: str, *, actor: str, at: datetime) -> None:
        with self._store._write() as conn:
            users.set_password_hash(conn, name, password_hash, actor=actor, at=at)

    def set_disabled(self, name: str, disabled: bool, *, actor: str, at: datetime) -> None:
        with self._store._write() as conn:
            users.set_disabled(conn, name, disabled, actor=actor, at=at)

    def secret(self, name: str, at: datetime) -> str:
        """The named secret, generated on first use; instances racing to create it agree."""
        with self._store._write() as conn:
            return users.stored_secret(conn, name, at)

    def record_sign_in(self, name: str, *, ok: bool, address: str, at: datetime) -> None:
        """Audit a sign-in (or a failed one, under the name that was tried)."""
        with self._store._write() as conn:
            audit.append(
                conn,
                at=at,
                actor=name[:200] or "anonymous",
                action="user.login" if ok else "user.login_failed",
                entity="user",
                entity_id=name[:200],
                after={"address": address},
            )
