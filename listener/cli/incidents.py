"""Incident and alert commands: incidents (list, show, ack, close, merge, and crisis mode's
hold, release, cancel-held), alerts, backtest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from listener.cli.common import (
    ActorOption,
    ConfigOption,
    actor_name,
    console,
    fail,
    print_json,
    settings_from,
    setup_logging,
    user_errors,
)
from listener.clock import SystemClock
from listener.settings import Settings
from listener.store import Store

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]

incidents_app = typer.Typer(
    help="Incidents: list them, or acknowledge, close, merge one, or hold its replies.",
    invoke_without_command=True,
    no_args_is_help=False,
)
alerts_app = typer.Typer(
    help="Crisis alerts in the outbox: list them, or deliver due ones now.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app, name="incidents")
    app.add_typer(alerts_app, name="alerts")
    app.command("backtest")(backtest)


@contextmanager
def _store(config: Path | None) -> Iterator[tuple[Settings, Store]]:
    with user_errors():
        settings = settings_from(config)
        store = Store.open(settings.database_url, echo=settings.database.echo)
        try:
            yield settings, store
        finally:
            store.close()


@incidents_app.callback()
def incidents(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    brand: Annotated[str | None, typer.Option("--brand", help="Only this brand.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="open, acknowledged, resolved, closed, merged (repeatable)."),
    ] = None,
    active: Annotated[bool, typer.Option("--active", help="Only open or acknowledged.")] = False,
) -> None:
    """List incidents, active and most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(config) as (_, store):
        found = store.incidents.find(brand=brand, status=tuple(status or ()), active_only=active)
    if as_json:
        print_json([i.as_dict() for i in found])
        return
    if not found:
        console.print("no incidents.")
    for i in found:
        console.print(
            f"#{i.id} [bold]{i.severity}[/] {i.status:<12} {i.brand}: {i.type}, "
            f"{i.mention_count} mention(s), first {i.first_mention_at:%Y-%m-%d %H:%M}, "
            f"opened {i.opened_at:%Y-%m-%d %H:%M} UTC",
            markup=True,
            highlight=False,
        )


@incidents_app.command("show")
def show(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One incident with its mentions, timeline and amplifiers."""
    with _store(config) as (_, store):
        detail = store.incidents.detail(incident_id)
    if as_json:
        print_json(detail.as_dict())
        return
    i = detail.incident
    console.print(f"#{i.id} {i.severity} {i.status} — {i.title}", markup=False)
    console.print(i.summary, markup=False)
    if i.outreach_held:
        console.print(f"Routine outreach for {i.brand} is on hold.", markup=False)
    for event in detail.timeline:
        console.print(f"  {event['at']} {event['actor']}: {event['action']}", markup=False)
    if detail.held_drafts:
        console.print(f"Held replies ({len(detail.held_drafts)}):", markup=False)
        for held in detail.held_drafts:
            console.print(f"  #{held['id']} to {held['author']}: {held['text']}", markup=False)


def _held_action(
    action: str, incident_id: int, ids: list[int], as_json: bool, message: str
) -> None:
    if as_json:
        print_json({"incident_id": incident_id, "action": action, "draft_ids": ids})
    else:
        console.print(message, markup=False)


@incidents_app.command("hold")
def hold(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hold routine outreach for an incident at any severity: its replies wait for release."""
    with _store(config) as (_, store):
        ids = store.incidents.hold_outreach(
            incident_id, actor=actor_name(actor), at=SystemClock().now()
        )
    _held_action(
        "hold", incident_id, ids, as_json, f"incident {incident_id}: {len(ids)} reply(ies) held."
    )


@incidents_app.command("release")
def release(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release an incident's held replies to the review queue (each needs approving again)."""
    with _store(config) as (_, store):
        ids = store.incidents.release_held(
            incident_id, actor=actor_name(actor), at=SystemClock().now()
        )
    _held_action(
        "release",
        incident_id,
        ids,
        as_json,
        f"incident {incident_id}: {len(ids)} reply(ies) back in the review queue.",
    )


@incidents_app.command("cancel-held")
def cancel_held(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why they are cancelled.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Cancel every reply held under an incident."""
    with _store(config) as (_, store):
        ids = store.incidents.cancel_held(
            incident_id, actor=actor_name(actor), at=SystemClock().now(), reason=reason
        )
    _held_action(
        "cancel-held",
        incident_id,
        ids,
        as_json,
        f"incident {incident_id}: {len(ids)} held reply(ies) cancelled.",
    )


@incidents_app.command("ack")
def ack(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Acknowledge an open incident (someone is on it)."""
    with _store(config) as (_, store):
        incident = store.incidents.acknowledge(
            incident_id, actor=actor_name(actor), at=SystemClock().now()
        )
    console.print(f"incident {incident.id} acknowledged.")


@incidents_app.command("close")
def close(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why it is closed.")] = "",
) -> None:
    """Close an incident; later mentions of the same story open a new one."""
    with _store(config) as (_, store):
        incident = store.incidents.close(
            incident_id, actor=actor_name(actor), at=SystemClock().now(), reason=reason
        )
    console.print(f"incident {incident.id} closed.")


@incidents_app.command("merge")
def merge(
    incident_id: Annotated[int, typer.Argument(help="The incident to fold in.")],
    into: Annotated[int, typer.Argument(help="The incident that keeps everything.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Merge one incident into another of the same brand."""
    with _store(config) as (_, store):
        incident = store.incidents.merge(
            incident_id, into, actor=actor_name(actor), at=SystemClock().now()
        )
    console.print(
        f"incident {incident_id} merged into {incident.id} "
        f"({incident.mention_count} mention(s) now)."
    )


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, sending, sent, failed or superseded."),
    ] = None,
    incident: Annotated[
        int | None, typer.Option("--incident", help="Only this incident's.")
    ] = None,
) -> None:
    """List alert deliveries (one per alert and channel)."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(config) as (_, store):
        found = store.alerts.deliveries(status=status, incident_id=incident)
    if as_json:
        print_json([d.as_dict() for d in found])
        return
    if not found:
        console.print("no alerts.")
    for d in found:
        extra = f" ({d.last_error or d.hold_reason})" if d.status != "sent" else ""
        console.print(
            f"#{d.id} {d.status:<10} {d.channel}: {d.alert.title}{extra}",
            markup=False,
            highlight=False,
        )


@alerts_app.command("dispatch")
def dispatch_alerts(config: ConfigOption = None) -> None:
    """Deliver due alerts now (the service does this every `incidents.dispatch_every`)."""
    from listener.alerts.dispatcher import AlertDispatcher, build_channels

    setup_logging()
    with _store(config) as (settings, store):
        import os

        dispatcher = AlertDispatcher(
            settings, store, SystemClock(), build_channels(settings.alerts, dict(os.environ))
        )
        try:
            report = dispatcher.run_once()
        finally:
            dispatcher.close()
    console.print(
        f"{report.sent} sent, {report.retrying} to retry, {report.held} held, "
        f"{report.failed} failed."
    )
    for error in report.errors[:20]:
        console.print(f"[yellow]warning:[/] {error}", soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)


def backtest(
    file: Annotated[Path | None, typer.Argument(help="JSONL or CSV of mentions to replay.")] = None,
    config: ConfigOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by extension).")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Replay a generated scenario instead of a file: calm-month, storm, two-stories.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated scenario.")] = 7,
    nab: Annotated[
        Path | None,
        typer.Option(
            "--nab",
            help="A NAB realTweets folder (Twitter_volume_*.csv, windows.json, labels.json): "
            "replay its counts through the detector.",
        ),
    ] = None,
    companies: Annotated[
        list[str] | None,
        typer.Option("--company", help="With --nab: only this series (repeatable), e.g. UPS."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay without sending: incidents, lead times, false alarms per brand-week, alerts."""
    from listener.incidents.backtest import nab_backtest, scenario_backtest
    from listener.incidents.replay import backtest as run_backtest

    setup_logging()
    if sum(x is not None for x in (file, scenario, nab)) != 1:
        fail("give one of: a FILE, --scenario NAME, or --nab FOLDER")
    with user_errors():
        settings = settings_from(config)
        if nab is not None:
            from listener.incidents.tracking import detection_rules

            if not nab.is_dir():
                fail(f"{nab} is not a folder")
            result = nab_backtest(nab, detection_rules(settings), companies or None, seed)
            if as_json:
                print_json(result)
            else:
                _print_nab(result)
            return
        if scenario is not None:
            result = scenario_backtest(settings, scenario, seed)
        else:
            assert file is not None
            if not file.is_file():
                fail(f"{file} does not exist or is not a file")
            result = run_backtest(settings, file, fmt)
    if as_json:
        print_json(result)
        return
    _print_replay(result)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_replay(result: dict[str, Any]) -> None:
    _say(f"{result['mentions']:,} mention(s), {len(result['incidents'])} incident(s):")
    for row in result["incidents"]:
        lead = row["lead_time_before_peak_seconds"]
        _say(
            f"  #{row['id']} {row['brand']} {row['type']} {row['severity']}: {row['title']}; "
            f"detected {row['detection_delay_seconds'] / 60:.1f} min after the first mention, "
            f"{row['mentions_before_detection']} mention(s) before detection"
            + (f", {lead / 60:.1f} min before the peak" if lead is not None else "")
            + (f" [labels: {', '.join(row['labels'])}]" if row["labels"] else "")
        )
    for label, story in result.get("stories", {}).items():
        delay = story["delay_seconds"]
        _say(
            f"story {label}: {len(story['incidents'])} incident(s) "
            f"{story['types'] or ''}, "
            + (
                f"detected {delay / 60:.1f} min after its first post"
                if delay is not None
                else "missed"
            )
        )
    for label, verdict in result.get("expected", {}).items():
        _say(
            f"  expected {label}: {'ok' if verdict['ok'] else 'NOT MET'} "
            f"(incidents {verdict['incidents']}, on time {verdict['on_time']}, "
            f"type {verdict['type']} {'matches' if verdict['type_matches'] else 'differs'})"
        )
    false = result.get("false_alarms")
    if false:
        per_brand = ", ".join(f"{b} {n:g}" for b, n in false["per_brand_per_week"].items())
        _say(
            f"false alarms: {false['incidents']} over {false['weeks']:g} week(s) "
            f"({false['note']}); per brand per week: {per_brand or 'none'}"
        )
    for channel, kinds in result.get("alerts_by_channel", {}).items():
        counts = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
        _say(f"alerts to {channel}: {counts}")
    if result["labelled"]:
        _say(f"missed labelled incidents: {', '.join(result['missed_labels']) or 'none'}")


def _print_nab(result: dict[str, Any]) -> None:
    for company, figures in result["series"].items():
        leads = ", ".join(
            f"{w['lead_minutes']:g} min" if w["lead_minutes"] is not None else "missed"
            for w in figures["windows"]
        )
        _say(
            f"{company}: {figures['incidents']} incident(s); {figures['detected']}/"
            f"{len(figures['windows'])} window(s) detected (lead before the label: {leads}); "
            f"{figures['false_alarms']} false alarm(s), {figures['false_alarms_per_week']:g} "
            f"per week"
        )
    t = result["totals"]
    _say(
        f"total: {t['detected']}/{t['windows']} windows detected, {t['false_alarms']} false "
        f"alarm(s), {t['false_alarms_per_brand_week']:g} per brand per week"
    )
