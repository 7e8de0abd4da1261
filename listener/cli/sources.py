"""`listener sources`: every source's health, so a silent failure is visible."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from listener.cli.common import ConfigOption, console, print_json, user_errors
from listener.cli.core import open_listener
from listener.health import assess


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
            every = {c.name: c.every for c in listener.settings.sources}
            threshold = listener.settings.service.unhealthy_after_failures
            rows = []
            for status in listener.store.source_statuses(now):
                health = assess(
                    now=now,
                    every=every.get(status.name, timedelta(minutes=5)),
                    consecutive_failures=status.consecutive_failures,
                    last_error=status.last_error,
                    last_success_at=status.last_success_at,
                    last_polled_at=status.last_polled_at,
                    retry_at=status.retry_at,
                    disabled_reason=status.disabled_reason,
                    mentions_total=status.mentions_total,
                    mentions_24h=status.mentions_24h,
                    failures_threshold=threshold,
                )
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
