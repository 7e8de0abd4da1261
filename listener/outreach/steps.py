"""How outreach joins the pipeline and the service: after-store steps, the draft filter, the job.

- `OptOutStep`: a new mention or reply that opts out puts its author on the brand's
  do-not-contact list and cancels their waiting replies (audited, one transaction).
- `CaseStep`: each dissatisfied author gets one open case per brand; new mentions join it.
- `draft_filter`: no draft for an opt-out message or for anyone on the list.
- `build_outreach`: the pieces `make_listener` wires in, including the periodic dispatch job.
Every step is idempotent by mention id, as the pipeline requires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from listener.clock import Clock
from listener.domain import Mention, StoredMention
from listener.outreach.dispatch import Dispatcher
from listener.outreach.optouts import opt_out_phrase
from listener.pipeline import AfterStore
from listener.settings import Settings
from listener.store import Store
from listener.store import outreach as q

__all__ = ["CaseStep", "OptOutStep", "Outreach", "build_outreach", "make_draft_filter"]


class OptOutStep:
    name = "opt-outs"

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
        found = []
        for item in stored:
            phrase = opt_out_phrase(item.mention.full_text)
            if phrase and q.identities(item.mention):
                found.append((item, phrase))
        if not found:
            return
        with self.store.write() as conn:
            for item, phrase in found:
                for key in q.identities(item.mention):
                    q.add_contact(
                        conn,
                        brand=item.brand,
                        author=key,
                        reason=f'opted out ("{phrase}") in mention {item.id}',
                        actor="listener",
                        at=now,
                        mention_id=item.id,
                    )


class CaseStep:
    name = "cases"

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
        if not any(s.score.dissatisfied for s in stored):
            return
        with self.store.write() as conn:
            q.open_cases_for(conn, stored, at=now)


def make_draft_filter(store: Store) -> Callable[[Mention, str], bool]:
    """False (no draft) for an opt-out message, or an author on the brand's list."""

    def wants_draft(mention: Mention, brand: str) -> bool:
        if opt_out_phrase(mention.full_text):
            return False
        keys = q.identities(mention)
        if not keys:
            return True
        with store.read() as conn:
            return q.blocked(conn, brand, keys) is None

    return wants_draft


@dataclass
class Outreach:
    dispatcher: Dispatcher
    after_store: list[AfterStore] = field(default_factory=list)
    draft_filter: Callable[[Mention, str], bool] | None = None


def build_outreach(
    settings: Settings, store: Store, clock: Clock, environ: Mapping[str, str]
) -> Outreach:
    dispatcher = Dispatcher(settings, store, clock, environ=environ)
    return Outreach(
        dispatcher=dispatcher,
        after_store=[OptOutStep(store), CaseStep(store)],
        draft_filter=make_draft_filter(store),
    )
