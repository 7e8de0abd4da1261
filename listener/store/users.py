"""Review desk accounts: people with a role, an argon2 password hash and an API token hash.

Only hashes are stored: the password hash comes from the web layer's hasher, the API token hash
is a SHA-256 of a 256-bit random token (a slow hash buys nothing for a token that long and
would make every API call slow). Creating and changing accounts is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, insert, select, update

from listener.errors import NotAllowed, NotFound
from listener.store import audit
from listener.store.bulk import upsert_ignore
from listener.store.web_tables import WebSecretRow, WebUserRow

USER: Table = WebUserRow.__table__  # type: ignore[attr-defined]
SECRET: Table = WebSecretRow.__table__  # type: ignore[attr-defined]

ROLES = ("viewer", "approver", "crisis", "admin")


@dataclass(frozen=True, slots=True)
class WebUser:
    id: int
    name: str
    role: str
    password_hash: str
    api_token_hash: str
    created_at: datetime
    disabled: bool
    session_epoch: int = 0

    @property
    def has_api_token(self) -> bool:
        return bool(self.api_token_hash)

    def as_dict(self) -> dict[str, object]:
        """The account as shown to an admin: never a hash."""
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "disabled": self.disabled,
            "api_token": self.has_api_token,
        }


def _row_to_user(row: Row[Any]) -> WebUser:
    return WebUser(
        id=row.id,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        api_token_hash=row.api_token_hash,
        created_at=row.created_at,
        disabled=bool(row.disabled),
        session_epoch=int(row.session_epoch),
    )


def check_role(role: str) -> str:
    if role not in ROLES:
        raise NotAllowed(f"role {role!r} is unknown; expected one of {', '.join(ROLES)}")
    return role


def add_user(
    conn: Connection, *, name: str, role: str, password_hash: str, actor: str, at: datetime
) -> WebUser:
    name = name.strip()
    if not name or len(name) > 200:
        raise NotAllowed("a user name is 1 to 200 characters")
    check_role(role)
    if conn.execute(select(USER.c.id).where(USER.c.name == name)).first() is not None:
        raise NotAllowed(f"there is already a user named {name!r}")
    conn.execute(
        insert(USER).values(
            name=name,
            role=role,
            password_hash=password_hash,
            api_token_hash="",
            created_at=at,
            disabled=False,
        )
    )
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="user.add",
        entity="user",
        entity_id=name,
        after={"role": role},
    )
    return get_user(conn, name)


def get_user(conn: Connection, name: str) -> WebUser:
    row = conn.execute(select(USER).where(USER.c.name == name)).first()
    if row is None:
        raise NotFound(f"there is no user named {name!r}")
    return _row_to_user(row)


def find_user(conn: Connection, name: str) -> WebUser | None:
    row = conn.execute(select(USER).where(USER.c.name == name)).first()
    return _row_to_user(row) if row is not None else None


def user_by_token_hash(conn: Connection, token_hash: str) -> WebUser | None:
    if not token_hash:
        return None
    row = conn.execute(select(USER).where(USER.c.api_token_hash == token_hash)).first()
    return _row_to_user(row) if row is not None else None


def list_users(conn: Connection) -> list[WebUser]:
    return [_row_to_user(r) for r in conn.execute(select(USER).order_by(USER.c.name))]


def set_api_token_hash(
    conn: Connection, name: str, token_hash: str, *, actor: str, at: datetime
) -> None:
    get_user(conn, name)
    conn.execute(update(USER).where(USER.c.name == name).values(api_token_hash=token_hash))
    audit.append(
        conn, at=at, actor=actor, action="user.token", entity="user", entity_id=name, after={}
    )


def set_password_hash(
    conn: Connection, name: str, password_hash: str, *, actor: str, at: datetime
) -> None:
    get_user(conn, name)
    # A new password also ends every session signed in with the old one.
    conn.execute(
        update(USER)
        .where(USER.c.name == name)
        .values(password_hash=password_hash, session_epoch=USER.c.session_epoch + 1)
    )
    audit.append(
        conn, at=at, actor=actor, action="user.password", entity="user", entity_id=name, after={}
    )


def end_sessions(conn: Connection, name: str, *, actor: str, at: datetime, why: str) -> None:
    """Make every session cookie issued to `name` so far stop working (sign-out)."""
    get_user(conn, name)
    conn.execute(
        update(USER).where(USER.c.name == name).values(session_epoch=USER.c.session_epoch + 1)
    )
    audit.append(conn, at=at, actor=actor, action=why, entity="user", entity_id=name, after={})


def set_disabled(conn: Connection, name: str, disabled: bool, *, actor: str, at: datetime) -> None:
    user = get_user(conn, name)
    conn.execute(update(USER).where(USER.c.name == name).values(disabled=disabled))
    audit.append(
        conn,
        at=at,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        entity="user",
        entity_id=name,
        before={"disabled": user.disabled},
        after={"disabled": disabled},
    )


def stored_secret(conn: Connection, name: str, at: datetime) -> str:
    """The named secret, generated on first use; instances racing to create it agree on one."""
    conn.execute(
        upsert_ignore(conn, SECRET),
        [{"name": name, "value": secrets.token_urlsafe(48), "created_at": at}],
    )
    value: str = conn.execute(select(SECRET.c.value).where(SECRET.c.name == name)).scalar_one()
    return value
