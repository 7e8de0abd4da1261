"""How outreach joins the pipeline and the service: after-store steps, the draft filter, the job.

- `OptOutStep`: a new mention or reply that opts out puts its author on the brand's
  do-not-contact list and cancels their waiting replies (audited, one transaction).
- `CaseStep`: each dissatisfied author gets one open case per brand; new mentions join it.
- `draft_filter`: no draft for an opt-out message or for anyone on the list.
- `build_outreach`: the pieces `make_listener` wires in, including the periodic dispatch job.
Every step is idempotent by mention id, as the pipeline requires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from listener.clock import Clock
from listener.domain import Channel, Mention, StoredMention
from listener.ops.metrics import Metrics
from listener.outreach.dispatch import Dispatcher, DispatchReport
from listener.outreach.identity import identities
from listener.outreach.news import is_news_article
from listener.outreach.optouts import mention_opt_out
from listener.outreach.publishers.base import Publisher
from listener.pipeline import AfterStore
from listener.settings import Settings
from listener.store import Store

log = logging.getLogger("listener.dispatch")

__all__ = [
    "CaseStep",
    "DoNotContactCache",
    "OptOutStep",
    "Outreach",
    "build_outreach",
    "make_draft_filter",
]


def opt_out_of(mention: Mention) -> str | None:
    """The opt-out a mention is, if any (`mention_opt_out` on its title and text)."""
    return mention_opt_out(mention.title, mention.text)


class OptOutStep:
    name = "opt-outs"
    # The next batch's draft filter must already see who opted out in this one.
    gates_drafts = True

    def __init__(self, store: Store, cache: DoNotContactCache | None = None) -> None:
        self.store = store
        self.cache = cache

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
        found = []
        for item in stored:
            phrase = opt_out_of(item.mention)
            if phrase and identities(item.mention):
                found.append((item, phrase))
        if not found:
            return
        self.store.outreach.add_opt_outs(found, now)
        if self.cache is not None:
            self.cache.invalidate()


class CaseStep:
    """Cases for dissatisfied customers; a news article opens none unless `news_as_customers`
    (it belongs to incidents, see `listener.outreach.news`)."""

    name = "cases"

    def __init__(
        self, store: Store, *, news_domains: Collection[str] = (), news_as_customers: bool = False
    ) -> None:
        self.store = store
        self.news_domains = frozenset(news_domains)
        self.news_as_customers = news_as_customers

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None:
        customers = [
            s
            for s in stored
            if s.score.dissatisfied
            and (
                self.news_as_customers or not is_news_article(s.mention, s.score, self.news_domains)
            )
        ]
        if not customers:
            return
        self.store.outreach.open_cases_for(customers, now)


class DoNotContactCache:
    """The do-not-contact list in memory, re-read at most every `ttl` seconds.

    The draft filter runs once per mention on the ingest hot path, where one query per mention
    would nearly double ingest time. A hit is confirmed in
    the database, so a removal counts at once; an addition made by another process may take
    `ttl` to be seen here, which is harmless: adding cancels waiting drafts, the opt-out step
    refreshes the cache at once, and the dispatcher checks the database before every send.
    """

    def __init__(self, store: Store, ttl: float = 2.0) -> None:
        self.store = store
        self.ttl = ttl
        self._authors: dict[str, frozenset[str]] = {}  # brand → author keys on its list
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None

    def listed(self, brand: str) -> frozenset[str]:
        """The author keys on `brand`'s list (as last read): empty for most brands."""
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at > self.ttl:
                authors: dict[str, set[str]] = {}
                for contact in self.store.outreach.contacts():
                    authors.setdefault(contact.brand, set()).add(contact.author)
                self._authors = {b: frozenset(keys) for b, keys in authors.items()}
                self._loaded_at = now
            return self._authors.get(brand, frozenset())

    def blocked(self, brand: str, keys: Sequence[str]) -> bool:
        listed = self.listed(brand)
        if not any(key in listed for key in keys):
            return False
        # Rare (only people on the list get here): confirm, so a removal counts at once.
        return self.store.outreach.blocked(brand, keys) is not None


def make_draft_filter(cache: DoNotContactCache) -> Callable[[Mention, str], bool]:
    """False (no draft) for an opt-out message, or an author on the brand's list."""

    def wants_draft(mention: Mention, brand: str) -> bool:
        if opt_out_of(mention):
            return False
        if not cache.listed(brand):  # the usual case: no one to look for
            return True
        keys = identities(mention)
        return not (keys and cache.blocked(brand, keys))

    return wants_draft


@dataclass
class Outreach:
    dispatcher: Dispatcher
    after_store: list[AfterStore] = field(default_factory=list)
    draft_filter: Callable[[Mention, str], bool] | None = None

    @property
    def opt_out_of(self) -> Callable[[Mention], str | None]:
        """The pipeline records every opt-out this finds in the transaction that stores it."""
        return opt_out_of

    def run_dispatch(self) -> DispatchReport:
        """The service's periodic job: one dispatch pass, logged when it did anything."""
        report = self.dispatcher.run_once()
        if report.problems:
            log.warning("dispatch: %s", report.summary())
        elif report.sent or report.cancelled or report.sla_breaches:
            log.info("dispatch: %s", report.summary())
        return report


def build_outreach(
    settings: Settings,
    store: Store,
    clock: Clock,
    environ: Mapping[str, str],
    publishers: Mapping[Channel, Publisher] | None = None,
    *,
    metrics: Metrics | None = None,
) -> Outreach:
    """The outreach steps and the reply dispatcher; `publishers` replace the ones built from
    settings and the environment (tests pass local or recording publishers here)."""
    dispatcher = Dispatcher(
        settings, store, clock, environ=environ, publishers=publishers, metrics=metrics
    )
    cache = DoNotContactCache(store)
    return Outreach(
        dispatcher=dispatcher,
        after_store=[
            OptOutStep(store, cache),
            CaseStep(
                store,
                news_domains=settings.incidents.news_domains,
                news_as_customers=settings.outreach.news_as_customers,
            ),
        ],
        draft_filter=make_draft_filter(cache),
    )
