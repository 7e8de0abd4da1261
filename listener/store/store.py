"""The Store: the only object in listener that holds a database connection.

It hands out short transactions (`_read()`, `_write()`) to the store's own modules only, and
offers the operations the rest of listener needs in domain terms: its own methods (mentions,
drafts, labels, audit) and its area objects (`users`, `desk`, `sources`, `incidents`, `alerts`,
`outreach`, in `listener.store.areas`). SQLAlchemy errors never leave it: they
become `StoreError` with the database named and the cause in plain words.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from listener.domain import BatchWrite, Category, Draft, IngestItem, PollState, StoredMention
from listener.errors import NotAllowed, NotFound, StoreError
from listener.outreach.review import ReviewAction
from listener.store import audit, contacts, drafts, mentions, ops, sends, sources
from listener.store.areas.alerts import Alerts
from listener.store.areas.desk import Desk
from listener.store.areas.incidents import Incidents
from listener.store.areas.outreach import Outreach
from listener.store.areas.sources import Sources
from listener.store.areas.statements import Statements
from listener.store.areas.users import Users
from listener.store.audit import AuditHead, ChainCheck
from listener.store.bulk import upsert_ignore
from listener.store.checkpoint import WalCheckpointer
from listener.store.engine import (
    is_sqlite,
    make_engine,
    migrate,
    redact,
    sqlite_in_memory,
    unreachable,
)
from listener.store.filters import DraftFilter, MentionFilter
from listener.store.tables import BrandRow, LabelRow

BRAND = BrandRow.__table__  # type: ignore[attr-defined]
LABEL = LabelRow.__table__  # type: ignore[attr-defined]


log = logging.getLogger("listener.store")


@dataclass(frozen=True, slots=True)
class StoredGroup:
    """What `Store.ingest_group` stored: the new mentions of each write, and the batch record
    to settle once the after-store steps have run (None when nothing was new)."""

    per_write: list[list[StoredMention]]
    batch_id: int | None


@dataclass(frozen=True, slots=True)
class UnsettledBatch:
    id: int
    mentions: list[StoredMention]


def _checkpointer_for(engine: Engine) -> WalCheckpointer | None:
    """A background checkpointer for a SQLite database file (not in memory, not a URI)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or sqlite_in_memory(url):
        return None
    return WalCheckpointer(url.database or "")


class TableStatistics:
    """Keeps PostgreSQL's planner statistics current while an import grows the tables.

    A table that grows from a few rows to a million inside one import keeps the statistics of
    its first minutes until autovacuum gets round to it, and the planner, believing the
    mention table holds a handful of rows, scans it for every dedup lookup. PostgreSQL's
    advice for bulk loads is to ANALYZE after them; here
    the ingest tables are analysed each time the rows stored by this process double (from
    1,000), so a million-mention import costs about ten quick ANALYZEs.

    They are quick because they sample `SAMPLE_TARGET` rather than the server's default
    statistics target (100): what the planner lacks mid-import is the tables' size, not a
    fine histogram, and at the default each ANALYZE of these tables sorts 30,000 rows of
    every column, long texts included, a large share of the server's work in an import.
    Autovacuum's own ANALYZE, once
    the import has changed a tenth of a table after the last of these, brings back the full
    statistics.
    """

    SAMPLE_TARGET = 10

    TABLES = (
        "mention",
        "score",
        "draft",
        "draft_event",
        "sighting",
        "complaint_case",
        "case_mention",
        "incident_mention",
        "audit_log",
    )

    def __init__(self, engine: Engine, first: int = 1000) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self.rows = 0
        self.next_at = first
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def grew(self, rows: int) -> None:
        """Count rows just committed; past the next threshold, ANALYZE on a thread of its
        own, so the writer that crossed it goes on writing (it waited ~5% of an import's time
        for the ANALYZEs before). One runs at a time; a threshold crossed while one runs is
        taken by the next write."""
        if not self.enabled or not rows:
            return
        with self._lock:
            self.rows += rows
            running = self._running is not None and self._running.is_alive()
            if self.rows < self.next_at or running:
                return
            self.next_at = self.rows * 2
            self._running = threading.Thread(
                target=self._analyze, name="listener-analyze", daemon=True
            )
            self._running.start()

    def _analyze(self) -> None:
        try:
            with self.engine.connect() as conn:
                # LOCAL: for this transaction only, so the pooled connection goes back as it was.
                conn.execute(text(f"SET LOCAL default_statistics_target = {self.SAMPLE_TARGET}"))
                conn.execute(text("ANALYZE " + ", ".join(self.TABLES)))
                conn.commit()
        except Exception as exc:  # statistics are an optimisation: never fail or kill anything
            log.warning("could not refresh table statistics: %s", exc)

    def wait(self, timeout: float | None = None) -> None:
        """Let a running ANALYZE finish (before the engine is disposed)."""
        running = self._running
        if running is not None:
            running.join(timeout)


class Store:
    """Storage for one listener deployment (SQLite file or PostgreSQL database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer: threads of this process queue here, in order, instead of
        # racing on busy_timeout (which is not fair and fails a writer that loses too often).
        self._sqlite_writer = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._stats = TableStatistics(engine)
        # SQLite: copies the write-ahead log into the file off the writers' path (see
        # `listener.store.checkpoint`); None for PostgreSQL and in-memory databases.
        self.checkpointer = _checkpointer_for(engine)
        self.users = Users(self)
        self.desk = Desk(self)
        self.sources = Sources(self)
        self.incidents = Incidents(self)
        self.alerts = Alerts(self)
        self.outreach = Outreach(self)
        self.statements = Statements(self)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        echo: bool = False,
        run_migrations: bool = True,
        pool_size: int | None = None,
    ) -> Store:
        """Connect and bring the schema up to date."""
        engine = make_engine(url, echo=echo, pool_size=pool_size)
        store = cls(engine)
        if run_migrations:
            try:
                migrate(engine)
            except StoreError:
                engine.dispose()
                raise
        return store

    @property
    def url(self) -> str:
        return redact(self.engine.url.render_as_string(hide_password=False))

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(str(self.engine.url))

    def close(self) -> None:
        self._stats.wait(timeout=30)
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()

    # Transactions are for the store's own modules (the area objects and the methods below);
    # everything outside `listener.store` goes through the methods and areas.

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translated("reading"), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock up front."""
        if self.checkpointer is not None:
            self.checkpointer.start()
        with (
            self._translated("writing"),
            self._sqlite_writer,
            self.engine.connect().execution_options(write=True) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if not _reached(exc):
                raise StoreError(unreachable(self.engine.url, doing, exc)) from exc
            raise StoreError(
                f"database {self.url} is unavailable: {_first_line(exc.orig)}; "
                "nothing from this step was saved"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(f"database {self.url} refused: {_first_line(exc.orig)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database {self.url} failed: {exc}") from exc

    # operators ------------------------------------------------------------------------

    def schema_state(self) -> ops.SchemaState:
        """Reachable, and at which migration; raises StoreError when it cannot be asked.

        A SQLite file that was deleted or moved away still answers on the connections this
        process holds open, while everything written goes nowhere: that counts as gone too.
        """
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and not sqlite_in_memory(url):
            database = url.database or ""
            if not url.query.get("uri") and not Path(database).is_file():
                raise StoreError(f"the database file {database} no longer exists")
        with self._read() as conn:
            return ops.schema_state(conn)

    def queue_snapshot(self) -> ops.QueueSnapshot:
        """Queue depth, active incidents, outbox ages and source progress (for /metrics)."""
        with self._read() as conn:
            return ops.queue_snapshot(conn)

    # brands ---------------------------------------------------------------

    def ensure_brands(self, names: Sequence[str], at: datetime) -> None:
        with self._write() as conn:
            if names:
                conn.execute(
                    upsert_ignore(conn, BRAND),
                    [{"name": n, "created_at": at} for n in names],
                )

    # mentions -----------------------------------------------------------------------

    def known_external_ids(self, source: str, external_ids: Sequence[str]) -> set[str]:
        with self._read() as conn:
            return mentions.known_external_ids(conn, source, external_ids)

    def ingest(
        self,
        items: Sequence[IngestItem],
        *,
        at: datetime,
        source: str | None = None,
        state: PollState | None = None,
        actor: str = "listener",
    ) -> list[StoredMention]:
        """Store a batch atomically: mentions, scores, drafts, the source's new cursor, audit.

        Returns only the mentions that were new; a mention seen before is silently skipped.
        """
        [stored] = self.ingest_group([BatchWrite(items, source, state, actor)], at=at).per_write
        return stored

    def ingest_group(self, writes: Sequence[BatchWrite], *, at: datetime) -> StoredGroup:
        """Store several batches (from several sources) in ONE transaction; per batch, the
        mentions that were new, and the id of the unsettled-batch record that stays until
        `mark_settled` says every after-store step has run for them.

        Concurrent polls hand their batches to one writer that commits them together (group
        commit): one lock, one commit and one audit append for many small polls instead of
        one of each per poll. Each batch's cursor and success mark are written in the same
        transaction as its mentions, so a crash loses or keeps a batch whole.
        """
        opt_outs = [seen for w in writes for seen in w.opt_outs]
        with self._write() as conn:
            if opt_outs:
                # Taken first, as every do-not-contact change takes it (see `add_contact`).
                sends.lock_dispatch(conn)
            everything = [item for w in writes for item in w.items]
            never_copies = frozenset((o.mention.source, o.mention.external_id) for o in opt_outs)
            stored = (
                mentions.insert_items(conn, everything, at, never_copies=never_copies)
                if everything
                else []
            )
            owner: dict[tuple[str, str], int] = {}
            for index, w in enumerate(writes):
                for item in w.items:
                    owner.setdefault((item.mention.source, item.mention.external_id), index)
            per_write: list[list[StoredMention]] = [[] for _ in writes]
            for s in stored:
                per_write[owner[(s.mention.source, s.mention.external_id)]].append(s)
            records = []
            progress: list[tuple[str, PollState, int]] = []
            successes: list[tuple[str, datetime]] = []
            for w, new in zip(writes, per_write, strict=True):
                if w.source is not None and w.state is not None:
                    progress.append((w.source, w.state, len(new)))
                if w.succeeded_at is not None and w.source is not None:
                    successes.append((w.source, w.succeeded_at))
                if new:
                    records.append(
                        {
                            "at": at,
                            "actor": w.actor,
                            "action": "ingest.batch",
                            "entity": "source",
                            "entity_id": w.source or "import",
                            "after": {
                                "received": len(w.items),
                                "new": len(new),
                                "drafts": sum(1 for i in w.items if i.draft is not None),
                                "first_id": new[0].id,
                                "last_id": new[-1].id,
                            },
                        }
                    )
            sources.save_many(conn, progress, successes)
            audit.append_many(conn, records)
            if opt_outs:
                contacts.record_opt_outs(conn, opt_outs, stored, at=at)
            batch_id = mentions.open_batch(conn, [s.id for s in stored], at) if stored else None
        self._stats.grew(len(stored))
        return StoredGroup(per_write, batch_id)

    def mark_settled(self, batch_id: int) -> None:
        """Every after-store step has run for this stored batch."""
        with self._write() as conn:
            mentions.settle_batch(conn, batch_id)

    def unsettled(self, *, stored_before: datetime, limit: int = 20) -> list[UnsettledBatch]:
        """Batches stored before `stored_before` whose after-store steps never finished."""
        with self._read() as conn:
            batches = mentions.unsettled_batches(conn, stored_before=stored_before, limit=limit)
            found = mentions.mentions_by_ids(conn, [i for _, ids in batches for i in ids])
        return [
            UnsettledBatch(batch_id, [found[i] for i in ids if i in found])
            for batch_id, ids in batches
        ]

    def mentions(
        self, f: MentionFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[StoredMention]:
        with self._read() as conn:
            return mentions.select_mentions(conn, f or MentionFilter(), limit=limit, offset=offset)

    def mentions_by_ids(self, ids: Sequence[int]) -> dict[int, StoredMention]:
        with self._read() as conn:
            return mentions.mentions_by_ids(conn, ids)

    def count_mentions(self, f: MentionFilter | None = None) -> int:
        with self._read() as conn:
            return mentions.count_mentions(conn, f or MentionFilter())

    # drafts -------------------------------------------------------------------------

    def drafts(
        self, f: DraftFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[Draft]:
        with self._read() as conn:
            return drafts.select_drafts(conn, f or DraftFilter(), limit=limit, offset=offset)

    def count_drafts(self, f: DraftFilter | None = None) -> int:
        with self._read() as conn:
            return drafts.count_drafts(conn, f or DraftFilter())

    def draft(self, draft_id: int) -> Draft:
        with self._read() as conn:
            return drafts.get_draft(conn, draft_id)

    def draft_history(self, draft_id: int) -> list[dict[str, Any]]:
        with self._read() as conn:
            drafts.get_draft(conn, draft_id)
            return drafts.draft_history(conn, draft_id)

    def review(
        self,
        draft_id: int,
        action: ReviewAction,
        *,
        actor: str,
        at: datetime,
        four_eyes: bool = False,
        text: str | None = None,
        reason: str | None = None,
        snooze_until: datetime | None = None,
        reply_names: Mapping[str, Sequence[str]] | None = None,
        role: str | None = None,
        crisis_four_eyes: bool = True,
    ) -> Draft:
        """Apply a review action (see `drafts.apply_action`); `role` is the actor's desk role,
        which a crisis reply's approval needs."""
        with self._write() as conn:
            return drafts.apply_action(
                conn,
                draft_id,
                action,
                actor=actor,
                at=at,
                four_eyes=four_eyes,
                text=text,
                reason=reason,
                snooze_until=snooze_until,
                reply_names=reply_names,
                role=role,
                crisis_four_eyes=crisis_four_eyes,
            )

    # labels and audit ---------------------------------------------------------------

    def add_label(
        self, mention_id: int, kind: str, value: str, *, actor: str, at: datetime
    ) -> None:
        """Record a person's correction and apply it; the training script learns from these.

        kinds: `category` (value a Category) and `dissatisfied` ("true"/"false") override the
        score; `not_about_us` cancels any reply still waiting for the mention.
        """
        kind, value = _check_label(kind, value)
        with self._write() as conn:
            row = conn.execute(
                select(mentions.SCORE).where(mentions.SCORE.c.mention_id == mention_id)
            ).first()
            if row is None:
                raise NotFound(f"there is no mention {mention_id}")
            before = {"category": row.category, "dissatisfied": row.dissatisfied}
            after = dict(before)
            if kind == "category":
                after["category"] = value
            elif kind == "dissatisfied":
                after["dissatisfied"] = value == "true"
            if after != before:
                conn.execute(
                    update(mentions.SCORE)
                    .where(mentions.SCORE.c.mention_id == mention_id)
                    .values(**after)
                )
            if kind == "not_about_us":
                conn.execute(
                    update(mentions.DRAFT)
                    .where(
                        mentions.DRAFT.c.mention_id == mention_id,
                        mentions.DRAFT.c.status.in_(["pending", "snoozed", "approved", "held"]),
                    )
                    .values(status="cancelled", reject_reason="not about us", updated_at=at)
                )
            conn.execute(
                LABEL.insert().values(
                    mention_id=mention_id, kind=kind, value=value, actor=actor, at=at
                )
            )
            audit.append(
                conn,
                at=at,
                actor=actor,
                action="score.override" if after != before else "score.label",
                entity="mention",
                entity_id=mention_id,
                before=before,
                after={**after, "label": kind, "value": value},
            )

    def labels(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(LABEL, mentions.MENTION.c.text)
                .join(mentions.MENTION, mentions.MENTION.c.id == LABEL.c.mention_id)
                .order_by(LABEL.c.id)
            )
            return [
                {
                    "mention_id": r.mention_id,
                    "kind": r.kind,
                    "value": r.value,
                    "actor": r.actor,
                    "at": r.at.isoformat(),
                    "text": r.text,
                }
                for r in rows
            ]

    def training_examples(self) -> list[dict[str, Any]]:
        """People's corrections as {"text", "dissatisfied"} rows for `listener.scoring.train`.

        The latest label per mention wins; "not about us" teaches matching, not mood, so it is
        left out.
        """
        latest: dict[int, dict[str, Any]] = {}
        for label in self.labels():
            if label["kind"] == "dissatisfied":
                latest[label["mention_id"]] = {
                    "text": label["text"],
                    "dissatisfied": label["value"] == "true",
                }
            elif label["kind"] == "category":
                latest[label["mention_id"]] = {
                    "text": label["text"],
                    "dissatisfied": Category(label["value"]).is_complaint,
                }
        return list(latest.values())

    def audit(
        self, *, limit: int = 100, entity: str = "", entity_id: str = ""
    ) -> list[audit.AuditRecord]:
        with self._read() as conn:
            query = select(audit.AUDIT).order_by(audit.AUDIT.c.id.desc()).limit(limit)
            if entity:
                query = query.where(audit.AUDIT.c.entity == entity)
            if entity_id:
                query = query.where(audit.AUDIT.c.entity_id == entity_id)
            return [audit.to_record(r) for r in conn.execute(query)]

    def record_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        entity: str,
        entity_id: str | int = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        with self._write() as conn:
            audit.append(
                conn,
                at=at,
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=before,
                after=after,
            )

    def verify_audit(self, expected: AuditHead | None = None) -> ChainCheck:
        """Check the chain, its stored head, and `expected` (a head kept elsewhere) if given."""
        with self._read() as conn:
            return audit.verify(conn, expected)

    def audit_head(self) -> tuple[ChainCheck, AuditHead]:
        """The chain checked, and where it ends (to keep outside the database)."""
        with self._read() as conn:
            return audit.head(conn)


LABEL_KINDS = ("category", "dissatisfied", "not_about_us")


def _check_label(kind: str, value: str) -> tuple[str, str]:
    if kind not in LABEL_KINDS:
        raise NotAllowed(
            f"label kind {kind!r} is unknown; expected one of {', '.join(LABEL_KINDS)}"
        )
    if kind == "category":
        if value not in {c.value for c in Category}:
            raise NotAllowed(
                f"category {value!r} is unknown; expected one of "
                + ", ".join(c.value for c in Category)
            )
    elif kind == "dissatisfied":
        value = value.strip().lower()
        if value not in ("true", "false"):
            raise NotAllowed("a dissatisfied label is 'true' or 'false'")
    else:
        value = "true"
    return kind, value


def _reached(exc: OperationalError) -> bool:
    """Whether the server answered (a lock, a timeout mid-query) rather than refusing to
    connect at all: only the latter is "cannot reach"."""
    return "connection to server" not in str(exc.orig)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
