"""Shared by the review desk tests: a listener seeded through the real pipeline, and users."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import Mention
from listener.settings import Settings
from listener.web.auth import hash_password

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"
HOSTILE_AUTHOR = "<img src=x onerror=alert(2)>{{ 7*7 }}"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

COMPLAINTS = [
    "@O2 no signal all day again, worst network ever, I want a refund",
    "O2 charged me twice this month and support keeps hanging up on me. Furious.",
    "Still no internet from O2 after three days, this outage is a joke",
    "@SkylineAir lost my luggage and nobody answers the phone, terrible service",
    "Skyline Air flight delayed 5 hours with no information at all. Never again.",
]


def mention(
    n: int,
    text: str,
    *,
    author: str = "",
    author_name: str = "",
    url: str = "",
    followers: int = 1000,
    **extra: object,
) -> Mention:
    return Mention(
        source="x-search",
        source_kind="x",
        external_id=f"tweet-{n}",
        text=text,
        url=url or f"https://x.example/status/{n}",
        author=author or f"@customer{n}",
        author_name=author_name or f"Customer {n}",
        author_followers=followers,
        published_at=T0 + timedelta(minutes=n),
        **extra,  # type: ignore[arg-type]
    )


def seeded_listener(
    settings: Settings, *, hostile: bool = True, extra: Sequence[Mention] = ()
) -> Listener:
    """A listener whose store holds complaints (with drafts) ingested by the real pipeline."""
    listener = make_listener(settings, sources=[], clock=ReplayClock(T0 + timedelta(hours=2)))
    batch = [mention(i, text, followers=1000 * (i + 1)) for i, text in enumerate(COMPLAINTS)]
    if hostile:
        batch.append(
            mention(
                99,
                f"@O2 your network is down again, terrible! {HOSTILE}",
                author="@evil",
                author_name=HOSTILE_AUTHOR,
                followers=50,
            )
        )
    batch.extend(extra)
    listener.pipeline.ingest(batch)
    return listener


@functools.cache
def password_hash(password: str) -> str:
    """A real argon2 hash, computed once per password: hashing is slow on purpose."""
    return hash_password(password)


def add_user(listener: Listener, name: str, role: str, password: str = PASSWORD) -> None:
    listener.store.users.add(
        name=name,
        role=role,
        password_hash=password_hash(password),
        actor="test",
        at=listener.clock.now(),
    )


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def loud_mention() -> Mention:
    """A risky post by an author with a huge following: the reach rule opens an incident."""
    return mention(
        70,
        f"@O2 total outage across London, no signal, no data, nothing works {HOSTILE}",
        author="@bigvoice",
        author_name="Big Voice",
        followers=900_000,
    )


INCIDENT_RULES = {"reach_followers": 100_000, "reach_incident_risk": 0.1}
