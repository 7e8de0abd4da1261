"""`listener queue`: the approval queue from the shell (list, show, approve, reject, edit,
snooze)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from listener.cli.common import (
    ActorOption,
    ConfigOption,
    actor_name,
    console,
    fail,
    open_listener,
    print_json,
    user_errors,
)
from listener.outreach.review import ReviewAction
from listener.settings import parse_duration
from listener.store import DraftFilter, stored_as_dict


def register(app: typer.Typer) -> None:
    app.add_typer(queue_app, name="queue")


queue_app = typer.Typer(
    help="The approval queue: list, approve, reject, edit drafts.", no_args_is_help=False
)


@queue_app.callback(invoke_without_command=True)
def queue(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    status: Annotated[
        str,
        typer.Option(help="pending, approved, rejected, snoozed, sent, failed, cancelled or all."),
    ] = "pending",
    brand: Annotated[str, typer.Option(help="Only this brand.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List drafts, most urgent first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    with user_errors():
        listener = open_listener(config)
        try:
            drafts = listener.store.drafts(
                DraftFilter(status=status, brand=brand), limit=limit, offset=offset
            )
        finally:
            listener.close()
    if as_json:
        print_json([d.as_dict() for d in drafts])
        return
    if not drafts:
        console.print(f"no {status} drafts.")
    for d in drafts:
        console.print(
            f"[bold]#{d.id}[/] {d.status} {d.brand} via {d.channel} "
            f"(mention {d.mention_id}, priority {d.priority:.2f})\n  {d.text}",
            soft_wrap=True,
        )


def _review(
    ctx: typer.Context,
    config: Path | None,
    draft_id: int,
    action: ReviewAction,
    actor: str | None,
    **kwargs: Any,
) -> None:
    with user_errors():
        listener = open_listener(config or ctx.obj, writes=True)
        try:
            # A crisis reply's approval needs the crisis role: `--as` names a desk user.
            user = listener.store.users.by_name(actor) if actor else None
            draft = listener.store.review(
                draft_id,
                action,
                actor=actor_name(actor),
                at=listener.clock.now(),
                four_eyes=listener.settings.outreach.four_eyes,
                reply_names=listener.settings.reply_names_by_brand(),
                role=user.role if user is not None and not user.disabled else None,
                crisis_four_eyes=listener.settings.outreach.crisis_four_eyes,
                **kwargs,
            )
        finally:
            listener.close()
    print_json(draft.as_dict())


@queue_app.command("approve")
def approve(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Approve a draft for sending."""
    _review(ctx, config, draft_id, ReviewAction.APPROVE, actor)


@queue_app.command("reject")
def reject(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Reject a draft, with a reason."""
    _review(ctx, config, draft_id, ReviewAction.REJECT, actor, reason=reason)


@queue_app.command("edit")
def edit(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    text: Annotated[str, typer.Option("--text", help="The new reply text.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Replace a draft's text (it then needs approval again)."""
    _review(ctx, config, draft_id, ReviewAction.EDIT, actor, text=text)


@queue_app.command("snooze")
def snooze(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    until: Annotated[str, typer.Option("--for", help="How long, e.g. 2h or 1d.")] = "4h",
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Put a draft aside for a while."""
    try:
        delta = parse_duration(until)
    except ValueError as exc:
        fail(f"--for {until!r}: {exc}", 2)
    _review(
        ctx, config, draft_id, ReviewAction.SNOOZE, actor, snooze_until=datetime.now(UTC) + delta
    )


@queue_app.command("show")
def show(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
) -> None:
    """A draft with its mention, scores and history."""
    with user_errors():
        listener = open_listener(config or ctx.obj)
        try:
            draft = listener.store.draft(draft_id)
            mention = listener.store.mentions_by_ids([draft.mention_id]).get(draft.mention_id)
            history = listener.store.draft_history(draft_id)
        finally:
            listener.close()
    print_json(
        {
            **draft.as_dict(),
            "mention": stored_as_dict(mention) if mention else None,
            "history": history,
        }
    )
