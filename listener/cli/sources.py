"""`listener sources`: every source's health, so a silent failure is visible."""

from __future__ import annotations

from typing import Annotated

import typer

from listener.cli.common import ConfigOption, console, open_listener, print_json, user_errors
from listener.sources.watch import health_of


def register(app: typer.Typer) -> None:
    app.command("sources")(sources)


def sources(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each source: kind, last success, last error, failures in a row, mentions in 24 h, health."""
    with user_errors():
        listener = open_listener(config)
        try:
            now = listener.clock.now()
            rows = []
            for status in listener.store.sources.statuses(now):
                health = health_of(status, listener.settings, now)
                rows.append(
                    {
                        **status.as_dict(),
                        "health": health.state.value,
                        "health_reason": health.reason or None,
                    }
                )
        finally:
            listener.close()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        colour = (
            "green"
            if row["health"] == "healthy"
            else "red"
            if row["health"] in ("unhealthy", "disabled")
            else "yellow"
        )
        console.print(
            f"[{colour}]{row['health']:>12}[/] {row['name']} ({row['kind']}): "
            f"{row['mentions_24h']} mention(s) in 24 h, "
            f"last success {row['last_success'] or 'never'}"
            + (f"\n{'':>14}{row['health_reason']}" if row["health_reason"] else ""),
            soft_wrap=True,
        )
