"""Review desk commands: `listener serve` and `listener users add|list|token|disable`."""

from __future__ import annotations

import getpass
import signal
import sys
import threading
from typing import Annotated

import typer

from listener.cli.common import (
    ConfigOption,
    actor_name,
    console,
    fail,
    open_listener,
    print_json,
    setup_logging,
    user_errors,
)
from listener.store import check_role


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override web.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override web.port.")] = None,
) -> None:
    """Serve the review desk alone (no polling); `listener run` serves it beside the service."""
    from listener.web.server import WebServer

    setup_logging()
    stop = threading.Event()
    with user_errors():
        listener = open_listener(config)
        try:
            server = WebServer(listener, host=host, port=port)
            # Handlers first: a signal that arrives as soon as the address is printed still
            # stops the server cleanly.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            server.start()
            try:
                console.print(f"review desk on [bold]{server.url}[/] (Ctrl+C stops)")
                stop.wait()
            finally:
                server.stop()
        finally:
            listener.close()
    console.print("review desk stopped.")


users_app = typer.Typer(help="Review desk accounts: add, list, API tokens.", no_args_is_help=True)


def _read_password() -> str:
    """From a hidden prompt (asked twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            fail("the passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Option(help="viewer, approver, crisis or admin.")] = "viewer",
    config: ConfigOption = None,
    actor: Annotated[str | None, typer.Option("--as", help="Who is acting (audit log).")] = None,
) -> None:
    """Create a user; the password comes from a hidden prompt, or stdin when piped."""
    from listener.web.auth import hash_password

    with user_errors():
        check_role(role)
        password_hash = hash_password(_read_password())
        listener = open_listener(config)
        try:
            user = listener.store.users.add(
                name=name,
                role=role,
                password_hash=password_hash,
                actor=actor_name(actor),
                at=listener.clock.now(),
            )
        finally:
            listener.close()
    console.print(f"user {user.name} added as {user.role}.")


@users_app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """Print the users as JSON (never a hash)."""
    with user_errors():
        listener = open_listener(config)
        try:
            found = listener.store.users.all()
        finally:
            listener.close()
    print_json([u.as_dict() for u in found])


@users_app.command("token")
def new_token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    config: ConfigOption = None,
    actor: Annotated[str | None, typer.Option("--as", help="Who is acting (audit log).")] = None,
) -> None:
    """Create an API token for a user (replacing any earlier one); it is printed only once."""
    from listener.web.auth import new_api_token

    token, token_hash = new_api_token()
    with user_errors():
        listener = open_listener(config)
        try:
            listener.store.users.set_api_token_hash(
                name, token_hash, actor=actor_name(actor), at=listener.clock.now()
            )
        finally:
            listener.close()
    sys.stdout.write(token + "\n")
    console.print(
        f"API token for {name} (shown once; any earlier token stopped working). "
        "Send it as 'Authorization: Bearer <token>'."
    )


@users_app.command("disable")
def disable_user(
    name: Annotated[str, typer.Argument()],
    config: ConfigOption = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again instead.")] = False,
    actor: Annotated[str | None, typer.Option("--as", help="Who is acting (audit log).")] = None,
) -> None:
    """Stop a user from signing in or using the API (or allow it again with --enable)."""
    with user_errors():
        listener = open_listener(config)
        try:
            listener.store.users.set_disabled(
                name, not enable, actor=actor_name(actor), at=listener.clock.now()
            )
        finally:
            listener.close()
    console.print(f"user {name} {'enabled' if enable else 'disabled'}.")
