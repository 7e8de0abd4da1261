"""What the crisis-mode tests share: a listener whose store holds an incident opened by the
real pipeline (a loud post and complaints about O2), with crisis users, wired to the fake X
API and a local SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.settings import Settings
from tests.support.outreach import X_KEYS, SmtpServer
from tests.support.web import COMPLAINTS, INCIDENT_RULES, T0, add_user, loud_mention, mention

PRESS = ["desk@paper.example", "news@wire.example"]
UPDATES = "https://status.o2.example/incident"


def crisis_settings(
    make_settings: Callable[..., Settings],
    db_url: str,
    *,
    x_url: str = "http://127.0.0.1:9",
    smtp: SmtpServer | None = None,
    **outreach: Any,
) -> Settings:
    return make_settings(
        database={"url": db_url},
        scoring={"model": "lexicon"},
        incidents=INCIDENT_RULES,
        brands=[
            {
                "name": "O2",
                "terms": ["O2", "@O2", "#O2"],
                "x_handle": "@O2",
                "support_url": "https://o2.example/help",
                "updates_url": UPDATES,
                "press_list": PRESS,
            }
        ],
        x_publish={"api_url": x_url, "timeout": "5s"},
        email=(
            {"sender": "press@o2.example", "smtp_host": smtp.host, "smtp_port": smtp.port}
            if smtp is not None
            else {}
        ),
        outreach={"templates_dir": make_settings().outreach.templates_dir, **outreach},
    )


def crisis_listener(settings: Settings) -> tuple[Listener, int]:
    """The listener and the id of the incident its store holds; users ann and bob (crisis),
    cat (approver), ada (admin)."""
    listener = make_listener(
        settings, sources=[], clock=ReplayClock(T0 + timedelta(hours=2)), environ=dict(X_KEYS)
    )
    batch = [mention(i, text, followers=1000 * (i + 1)) for i, text in enumerate(COMPLAINTS[:3])]
    batch.append(loud_mention())
    # Others amplifying the same story: they join the incident the loud post opens.
    for n, author in enumerate(("@techreporter", "@londoner", "@commuter"), start=71):
        batch.append(
            mention(
                n,
                "@O2 total outage across London, no signal, no data, nothing works here too",
                author=author,
                followers=300_000 - n * 1000,
            )
        )
    listener.pipeline.ingest(batch)
    found = listener.store.incidents.find(brand="O2")
    assert found, "the loud post should have opened an incident"
    for name, role in (("ann", "crisis"), ("bob", "crisis"), ("cat", "approver"), ("ada", "admin")):
        add_user(listener, name, role)
    return listener, found[0].id
