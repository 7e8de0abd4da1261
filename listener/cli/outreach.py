"""Outreach commands: dispatch, mark-sent, contacts (do-not-contact), cases, audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    setup_logging,
    user_errors,
)
from listener.errors import NotAllowed
from listener.outreach.dispatch import Dispatcher
from listener.store import AuditHead

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)
    app.command("mark-sent")(mark_sent)
    app.add_typer(contacts_app, name="contacts")
    app.add_typer(cases_app, name="cases")
    app.add_typer(audit_app, name="audit")


@contextmanager
def _opened(config: Path | None, *, writes: bool = False) -> Iterator[Listener]:
    with user_errors():
        listener = open_listener(config, writes=writes)
        try:
            yield listener
        finally:
            listener.close()


def _check_brand(listener: Listener, brand: str) -> None:
    names = [b.name for b in listener.settings.brands]
    if brand not in names:
        raise NotAllowed(f"there is no brand {brand!r} (configured: {', '.join(names)})")


def dispatch(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Send approved replies once (X, email), then exit; exit 1 if any needs a person."""
    setup_logging()
    with _opened(config, writes=True) as listener:
        dispatcher = Dispatcher(listener.settings, listener.store, listener.clock)
        try:
            report = dispatcher.run_once()
        finally:
            dispatcher.close()
    if as_json:
        print_json(report.as_dict())
    else:
        for title, entries, style in (
            ("sent", report.sent, "green"),
            ("waiting", report.held, "yellow"),
            ("cancelled", report.cancelled, "yellow"),
            ("retry later", report.retrying, "yellow"),
            ("failed", report.failed, "red"),
            ("check the platform", {**report.recovered, **report.needs_check}, "red"),
        ):
            for draft_id, detail in entries.items():
                console.print(f"[{style}]draft {draft_id} {title}:[/] {detail}", soft_wrap=True)
        for case_id in report.sla_breaches:
            console.print(f"[red]case {case_id} breached its SLA[/]")
        console.print(report.summary())
    if report.problems:
        raise typer.Exit(1)


def mark_sent(
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
    platform_id: Annotated[
        str, typer.Option("--platform-id", help="The id or link of the posted reply.")
    ] = "",
    note: Annotated[str, typer.Option(help="What you checked or where you posted it.")] = "",
    actor: ActorOption = None,
) -> None:
    """Record that a reply is up: posted by hand (manual) or checked after a doubtful send."""
    with _opened(config, writes=True) as listener:
        dispatcher = Dispatcher(listener.settings, listener.store, listener.clock, publishers={})
        draft = dispatcher.mark_sent(
            draft_id, actor=actor_name(actor), platform_id=platform_id, note=note
        )
    print_json(draft.as_dict())


contacts_app = typer.Typer(help="The do-not-contact list, per brand.", no_args_is_help=True)


@contacts_app.command("list")
def contacts_list(
    config: ConfigOption = None,
    brand: Annotated[str, typer.Option(help="Only this brand.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Everyone who must not be contacted, with why and since when."""
    with _opened(config) as listener:
        found = listener.store.outreach.contacts(brand)
    if as_json:
        print_json([c.as_dict() for c in found])
        return
    if not found:
        console.print("the do-not-contact list is empty.")
    for c in found:
        console.print(f"{c.brand} {c.author}: {c.reason} ({c.created_by}, {c.created_at:%Y-%m-%d})")


@contacts_app.command("add")
def contacts_add(
    brand: Annotated[str, typer.Option(help="The brand that must not contact them.")],
    author: Annotated[str, typer.Option(help="Handle or email address, as in the mentions.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the entry).")] = "",
    config: ConfigOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add someone to a brand's do-not-contact list; their waiting replies are cancelled."""
    with _opened(config, writes=True) as listener:
        _check_brand(listener, brand)
        added, cancelled = listener.store.outreach.add_contact(
            brand=brand,
            author=author,
            reason=reason,
            actor=actor_name(actor),
            at=listener.clock.now(),
        )
    if as_json:
        print_json({"added": added, "cancelled_drafts": cancelled})
        return
    state = "added to" if added else "already on"
    console.print(
        f"{author} {state} the do-not-contact list of {brand}; "
        f"{len(cancelled)} waiting repl(ies) cancelled."
    )


@contacts_app.command("remove")
def contacts_remove(
    brand: Annotated[str, typer.Option(help="The brand.")],
    author: Annotated[str, typer.Option(help="Handle or email address.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Take someone off the list (e.g. they asked to hear from the brand again)."""
    with _opened(config, writes=True) as listener:
        _check_brand(listener, brand)
        listener.store.outreach.remove_contact(
            brand=brand, author=author, actor=actor_name(actor), at=listener.clock.now()
        )
    console.print(f"{author} removed from the do-not-contact list of {brand}.")


cases_app = typer.Typer(help="Complaint cases: list and update.", no_args_is_help=False)


@cases_app.callback(invoke_without_command=True)
def cases(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    brand: Annotated[str, typer.Option(help="Only this brand.")] = "",
    status: Annotated[
        str,
        typer.Option(help="new, investigating, responded, resolved, closed_not_complaint or all."),
    ] = "all",
) -> None:
    """List cases, newest first, with their SLA figures."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    with _opened(config) as listener:
        found = listener.store.outreach.cases(brand=brand, status=status)
        now = listener.clock.now()
        outreach = listener.settings.outreach
        rows = [c.as_dict(now, outreach.first_response_sla, outreach.resolution_sla) for c in found]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no cases.")
    for row in rows:
        flag = " [red]SLA BREACHED[/]" if row["sla_breached"] else ""
        console.print(
            f"[bold]case {row['id']}[/] {row['brand']} {row['author']} {row['status']}"
            f"{flag} owner={row['owner'] or '-'} root_cause={row['root_cause'] or '-'} "
            f"mentions={row['mention_ids']} drafts={row['draft_ids']}",
            soft_wrap=True,
        )


@cases_app.command("update")
def cases_update(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
    status: Annotated[str | None, typer.Option(help="The new status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns the case.")] = None,
    root_cause: Annotated[
        str | None,
        typer.Option(
            "--root-cause",
            help="bought_in_contact_list, consent_missing, technical_fault, staff_error, ...",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note to add.")] = None,
    actor: ActorOption = None,
) -> None:
    """Change a case's status, owner or root cause, or add a note (each is audited)."""
    if status is None and owner is None and root_cause is None and note is None:
        fail("give at least one of --status, --owner, --root-cause, --note", 2)
    with _opened(config or ctx.obj, writes=True) as listener:
        case = listener.store.outreach.update_case(
            case_id,
            actor=actor_name(actor),
            at=listener.clock.now(),
            status=status,
            owner=owner,
            root_cause=root_cause,
            note=note,
        )
        outreach = listener.settings.outreach
        row = case.as_dict(
            listener.clock.now(), outreach.first_response_sla, outreach.resolution_sla
        )
    print_json(row)


audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=False)


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    entity: Annotated[str, typer.Option(help="Only records about this (draft, case ...).")] = "",
    entity_id: Annotated[str, typer.Option("--id", help="Only this entity id.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 100,
) -> None:
    """The latest audit records, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    with _opened(config) as listener:
        records = listener.store.audit(limit=limit, entity=entity, entity_id=entity_id)
    if as_json:
        print_json([r.as_dict() for r in records])
        return
    for r in records:
        console.print(
            f"#{r.id} {r.at:%Y-%m-%d %H:%M:%S} {r.actor} {r.action} {r.entity} {r.entity_id}",
            soft_wrap=True,
        )


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    config: ConfigOption = None,
    expect_head: Annotated[
        str,
        typer.Option(
            "--expect-head",
            help="A head printed earlier by `listener audit head` (records:last_id:hash), "
            "kept outside the database: the chain must still pass through it.",
        ),
    ] = "",
) -> None:
    """Recompute the hash chain and compare its end with its head; exit 1 naming what changed."""
    expected = None
    if expect_head:
        try:
            expected = AuditHead.parse(expect_head)
        except ValueError as exc:
            fail(f"--expect-head: {exc} (copy it from `listener audit head`)")
    with _opened(config or ctx.obj) as listener:
        check = listener.store.verify_audit(expected)
    if not check.ok:
        where = f"record {check.first_bad_id}: " if check.first_bad_id is not None else ""
        fail(f"audit log tampered: {where}{check.problem} ({check.records} record(s) checked)")
    against = " and the head you kept" if expected is not None else ""
    console.print(f"audit log intact: {check.records} record(s), chain and head{against} verified.")


@audit_app.command("head")
def audit_head(
    ctx: typer.Context, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Print where the chain ends, to keep outside the database for `verify --expect-head`."""
    with _opened(config or ctx.obj) as listener:
        check, head = listener.store.audit_head()
    if not check.ok:
        where = f"record {check.first_bad_id}: " if check.first_bad_id is not None else ""
        fail(f"audit log tampered: {where}{check.problem}; no head printed")
    if as_json:
        print_json({**head.as_dict(), "head": str(head)})
        return
    print(head)
