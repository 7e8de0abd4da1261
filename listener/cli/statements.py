"""`listener statements`: an incident's holding statements (one per channel) and crisis
replies to its amplifiers, from the shell. Approving needs `--as` a desk user with the crisis
(or admin) role; with crisis four eyes on, two different ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from listener.app import Listener
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
from listener.domain import Channel, StatementStatus
from listener.outreach.crisis_desk import CrisisDesk
from listener.outreach.dispatch import Dispatcher


def register(app: typer.Typer) -> None:
    app.add_typer(statements_app, name="statements")


statements_app = typer.Typer(
    help="Holding statements and crisis replies during an incident.", no_args_is_help=False
)

IdArgument = Annotated[int, typer.Argument(metavar="ID", min=1)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _crisis(listener: Listener) -> CrisisDesk:
    return CrisisDesk(listener.settings, listener.store, listener.clock)


@statements_app.callback(invoke_without_command=True)
def statements(
    ctx: typer.Context,
    config: ConfigOption = None,
    incident: Annotated[
        int | None, typer.Option("--incident", min=1, help="Only this incident.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List holding statements, oldest first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    with user_errors():
        listener = open_listener(config)
        try:
            crisis = _crisis(listener)
            found = [crisis.as_dict(s) for s in crisis.statements(incident)]
        finally:
            listener.close()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no holding statements.")
    for s in found:
        console.print(
            f"[bold]#{s['id']}[/] incident {s['incident_id']} {s['channel']} {s['status']} "
            f"({s['approvals']})\n  {s['text']}",
            soft_wrap=True,
        )


def _run(
    ctx: typer.Context, config: Path | None, act: Callable[[Listener, CrisisDesk], object]
) -> None:
    with user_errors():
        listener = open_listener(config or ctx.obj, writes=True)
        try:
            crisis = _crisis(listener)
            result = act(listener, crisis)
        finally:
            listener.close()
    print_json(result)


@statements_app.command("draft")
def draft(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="INCIDENT_ID", min=1)],
    channel: Annotated[Channel, typer.Option("--channel", help="x, email or manual.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Draft the incident's holding statement on one channel (one per channel)."""
    _run(
        ctx,
        config,
        lambda _, c: c.as_dict(c.draft(incident_id, channel, actor=actor_name(actor))),
    )


@statements_app.command("edit")
def edit(
    ctx: typer.Context,
    statement_id: IdArgument,
    text: Annotated[str, typer.Option("--text", help="The new text (must name the brand).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Change a statement's text; its approvals are cleared."""
    _run(ctx, config, lambda _, c: c.as_dict(c.edit(statement_id, text, actor=actor_name(actor))))


@statements_app.command("redraft")
def redraft(
    ctx: typer.Context,
    statement_id: IdArgument,
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Write a statement from its template again (not once posted); approvals are cleared."""
    _run(ctx, config, lambda _, c: c.as_dict(c.redraft(statement_id, actor=actor_name(actor))))


@statements_app.command("approve")
def approve(
    ctx: typer.Context,
    statement_id: IdArgument,
    actor: Annotated[str, typer.Option("--as", help="A desk user with the crisis role.")],
    config: ConfigOption = None,
) -> None:
    """Approve a statement (the first or second of two crisis approvals)."""

    def act(listener: Listener, crisis: CrisisDesk) -> object:
        user = listener.store.users.by_name(actor)
        role = user.role if user is not None and not user.disabled else None
        return crisis.as_dict(crisis.approve(statement_id, actor=actor, role=role))

    _run(ctx, config, act)


@statements_app.command("cancel")
def cancel(
    ctx: typer.Context,
    statement_id: IdArgument,
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Cancel a statement that is not posted; the channel may then be drafted again."""
    _run(ctx, config, lambda _, c: c.as_dict(c.cancel(statement_id, actor=actor_name(actor))))


@statements_app.command("post")
def post(ctx: typer.Context, statement_id: IdArgument, config: ConfigOption = None) -> None:
    """Post an approved statement now (X or email); one already posted is left alone.
    Exit 1 when it did not go out."""

    def act(listener: Listener, crisis: CrisisDesk) -> object:
        dispatcher = Dispatcher(listener.settings, listener.store, listener.clock)
        try:
            before = listener.store.statements.get(statement_id)
            after = dispatcher.post_statement(statement_id)
        finally:
            dispatcher.close()
        if before.status is StatementStatus.POSTED:
            console.print(f"statement {statement_id} was posted already; nothing was sent")
        elif after.status is not StatementStatus.POSTED:
            print_json(crisis.as_dict(after))
            fail(
                f"statement {statement_id} is {after.status.value}: "
                f"{after.error or after.hold_reason or 'not posted'}"
            )
        return crisis.as_dict(after)

    _run(ctx, config, act)


@statements_app.command("posted")
def posted(
    ctx: typer.Context,
    statement_id: IdArgument,
    url: Annotated[str, typer.Option("--url", help="Where the statement can be read.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Record that a person posted a statement (manual), or checked a doubtful post is up."""
    _run(
        ctx,
        config,
        lambda _, c: c.as_dict(c.posted(statement_id, url, actor=actor_name(actor))),
    )


@statements_app.command("reply")
def reply(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="INCIDENT_ID", min=1)],
    to: Annotated[list[str], typer.Option("--to", help="An amplifier to reply to (repeat).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Draft crisis replies pointing to the statement, to amplifiers you pick (capped by
    outreach.crisis_replies_max); they wait in the queue for crisis approval."""
    _run(
        ctx,
        config,
        lambda _, c: [d.as_dict() for d in c.reply_to(incident_id, to, actor=actor_name(actor))],
    )
