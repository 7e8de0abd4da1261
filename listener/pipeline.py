"""The one place that does I/O in sequence: fetch → match → score → draft → store → after-store.

Everything it calls in between is pure (matching, scoring, drafting decisions). A source's
cursor is saved in the same transaction as the mentions it covers, so a crash at any point
re-fetches at worst and the store's dedup drops what it already has: nothing is lost, nothing
is stored twice.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from listener.clock import Clock
from listener.domain import (
    BatchWrite,
    FetchBatch,
    IngestItem,
    Mention,
    OptOutSeen,
    PlannedDraft,
    PollState,
    Score,
    StoredMention,
)
from listener.errors import ListenerError, RateLimited, SourceError, StoreError
from listener.ops.metrics import Metrics, timed
from listener.outreach.drafting import Drafter
from listener.scoring.base import Scorer
from listener.scoring.language import with_language
from listener.scoring.workers import PendingScores, ScoringWorkers
from listener.settings import BrandSettings
from listener.sources.base import Source
from listener.store import GroupCommit, PendingWrite, Store
from listener.text.matching import BrandMatcher

log = logging.getLogger("listener.pipeline")


class AfterStore(Protocol):
    """A step that runs on newly stored mentions (incident detection, opt-outs, cases).

    It gets only mentions that were new, in order, with the pipeline's clock time. A failure
    is reported but never un-stores mentions; steps must be safe to run again on the same
    mentions (they are keyed by mention id).

    A step may set `gates_drafts = True` when the next batch's drafts must see its effect
    (opt-outs): an import runs such steps before it stores the next batch, the others while
    it does.
    """

    name: str

    def __call__(self, stored: Sequence[StoredMention], now: datetime) -> None: ...


@dataclass
class IngestReport:
    received: int = 0
    matched: int = 0
    new: int = 0
    duplicates: int = 0
    drafts: int = 0
    # Drafts not queued because the poll reached `outreach.max_drafts_per_poll`.
    not_drafted: int = 0
    stored: list[StoredMention] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        self.received += other.received
        self.matched += other.matched
        self.new += other.new
        self.duplicates += other.duplicates
        self.drafts += other.drafts
        self.not_drafted += other.not_drafted
        self.problems.extend(other.problems)


def _keep_most_urgent_drafts(items: list[IngestItem], limit: int) -> int:
    """Drop all but the `limit` most urgent drafts of `items` (in place); how many went."""
    drafted = [i for i, item in enumerate(items) if item.draft is not None]
    if len(drafted) <= limit:
        return 0
    urgent = sorted(drafted, key=lambda i: (-_priority(items[i]), i))[:limit]
    keep = set(urgent)
    for i in drafted:
        if i not in keep:
            item = items[i]
            items[i] = IngestItem(item.mention, item.brand, item.matched_term, item.score)
    return len(drafted) - limit


def _priority(item: IngestItem) -> float:
    return item.draft.priority if item.draft is not None else 0.0


# How long `ingest_many` waits before each new try at a batch the database failed to store.
INGEST_RETRY_WAITS = (0.5, 2.0, 5.0)


@dataclass
class _Stopped:
    """How far a sequence of batches got, and the error that stopped it, if one did."""

    batches: int = 0
    error: StoreError | None = None


@dataclass
class _Started:
    """A batch matched and deduplicated, its scores computed or on their way."""

    report: IngestReport
    fresh: list[tuple[Mention, str, str]]
    scores: list[Score] | PendingScores
    elapsed: Callable[[], float]  # seconds since the batch entered the pipeline
    scoring_time: Callable[[], float] | None = None  # since it was handed to the workers
    opt_outs: list[OptOutSeen] = field(default_factory=list)
    plans: list[PlannedDraft | None] | None = None


@dataclass
class PollReport:
    source: str
    fetched: int = 0
    matched: int = 0
    new: int = 0
    duplicates: int = 0
    drafts: int = 0
    not_drafted: int = 0
    not_modified: bool = False
    skipped: str = ""
    error: str = ""
    retry_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "ok": self.ok,
            "fetched": self.fetched,
            "matched": self.matched,
            "new": self.new,
            "drafts": self.drafts,
            "not_drafted": self.not_drafted,
            "not_modified": self.not_modified,
            "skipped": self.skipped or None,
            "error": self.error or None,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "notes": self.notes,
        }

    def summary(self) -> str:
        if self.skipped:
            return f"{self.source}: skipped ({self.skipped})"
        if self.error:
            return f"{self.source}: FAILED: {self.error}"
        if self.not_modified:
            return f"{self.source}: not modified since last poll"
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"{self.source}: {self.fetched} fetched, {self.matched} about a brand, "
            f"{self.new} new, {self.drafts} drafts queued{extra}"
        )


class Pipeline:
    """Matches, scores, drafts and stores mentions; polls sources through the same path."""

    def __init__(
        self,
        *,
        brands: Sequence[BrandSettings],
        store: Store,
        scorer: Scorer,
        matcher: BrandMatcher,
        drafter: Drafter | None,
        clock: Clock,
        source_brands: dict[str, Sequence[str]] | None = None,
        after_store: Sequence[AfterStore] = (),
        draft_filter: Callable[[Mention, str], bool] | None = None,
        workers: ScoringWorkers | None = None,
        metrics: Metrics | None = None,
        opt_out_of: Callable[[Mention], str | None] | None = None,
        reply_brands: Mapping[str, str] | None = None,
        max_drafts_per_poll: int | None = None,
    ) -> None:
        self.brands = {b.name: b for b in brands}
        self.store = store
        self.scorer = scorer
        self.matcher = matcher
        self.drafter = drafter
        self.clock = clock
        self.source_brands = source_brands or {}
        self.after_store = list(after_store)
        self.draft_filter = draft_filter
        self.workers = workers
        self.metrics = metrics if metrics is not None else Metrics()
        # Which opt-out a mention is, if any: every matched one is asked, new, repeated or a
        # copy, and the answer is stored with the batch (see `Store.ingest_group`).
        self.opt_out_of = opt_out_of
        # X account id or "@handle" (lower case) → the brand it belongs to: a reply to a
        # brand's account is about that brand even when it does not name it.
        self.reply_brands = {k.lower(): v for k, v in (reply_brands or {}).items()}
        self.max_drafts_per_poll = max_drafts_per_poll
        self.retry_waits: Sequence[float] = INGEST_RETRY_WAITS
        self._group = GroupCommit(self._write_group)

    def ingest(
        self,
        mentions: Sequence[Mention],
        *,
        source: str | None = None,
        state: PollState | None = None,
        actor: str = "listener",
        now: datetime | None = None,
        finishes_poll: bool = False,
        max_drafts: int | None = None,
    ) -> IngestReport:
        """Match, score, draft and store one batch; returns what happened to it.

        The batch is written together with whatever other threads are writing at the same
        moment (see `listener.store.group_commit`); this returns once it is committed. With
        `finishes_poll`, the same transaction marks `source`'s poll a success. With
        `max_drafts`, only that many of its drafts (the most urgent) are queued; the report's
        `not_drafted` counts the others.
        """
        started = self._start(mentions)
        return self._write(
            started, source, state, actor, now, finishes_poll, max_drafts=max_drafts
        )[0]

    def ingest_many(
        self, batches: Iterable[Sequence[Mention]], *, actor: str = "listener"
    ) -> Iterator[IngestReport]:
        """Ingest batches in order, one report per batch.

        While a batch is stored, the next ones are being scored: one, or with worker
        processes as many as there are workers, so none of them waits to be handed work. On
        a database server (PostgreSQL), storing is mostly waiting for the server, so a thread
        of its own stores each batch while this one reads, matches and hands out the next,
        and a third runs a stored batch's after-store steps (cases, incidents) while the next
        batch is stored. On SQLite the writing is this process's own work, and a second
        thread would only add interpreter-lock hand-overs and memory, so there it stays on
        this thread.
        Either way one batch is stored at a time, in order (ids, the audit chain and the
        reports keep the input's order), each report comes after its batch's steps have
        run, and if the caller stops early the batch being stored is still stored and
        settled.
        """
        ahead = max(1, self.workers.workers) if self.workers is not None else 1
        started = self._started_ahead(batches, ahead)
        stopped = _Stopped()
        if self.store.is_sqlite:
            for batch in started:
                yield self._write_retrying(batch, actor, stopped)[0]
            return
        # The store thread is shut down (waited for) before the settle thread, so a batch stored
        # while the caller stops early is still settled.
        reports: deque[Future[Future[IngestReport]]] = deque()
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-settle") as settler,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-store") as store,
        ):
            for batch in started:
                reports.append(
                    store.submit(self._store_then_settle, batch, actor, settler, stopped)
                )
                while len(reports) > 1:
                    yield reports.popleft().result().result()
            while reports:
                yield reports.popleft().result().result()

    def _write_retrying(
        self, started: _Started, actor: str, stopped: _Stopped, *, settle_later: bool = False
    ) -> tuple[IngestReport, PendingWrite | None]:
        """Store one batch of a sequence, trying again when the database fails (a dropped
        connection, a server restart); storing a batch again is safe, since what is already
        stored is skipped. If it still fails, no later batch of the sequence is stored (the
        store never holds a later batch past a missing one) and the error says how far it
        got and what to do."""
        if stopped.error is not None:
            raise stopped.error
        for wait in (*self.retry_waits, None):
            try:
                written = self._write(started, None, None, actor, None, settle_later=settle_later)
            except StoreError as exc:
                if wait is None:
                    stopped.error = StoreError(
                        f"{exc}. Stopped after {stopped.batches:,} batch(es) were stored, "
                        f"having tried this batch {len(self.retry_waits) + 1} times; nothing "
                        "after it was stored. Run the same command again once the database is "
                        "back: what is already stored is skipped"
                    )
                    raise stopped.error from exc
                log.warning("storing a batch failed (%s); trying again in %.1f s", exc, wait)
                time.sleep(wait)
                continue
            stopped.batches += 1
            return written
        raise AssertionError("unreachable")  # the last wait is None

    def _store_then_settle(
        self, started: _Started, actor: str, settler: ThreadPoolExecutor, stopped: _Stopped
    ) -> Future[IngestReport]:
        """Store a batch, and hand its after-store steps to `settler`: they run while the
        next batch is being stored."""
        report, written = self._write_retrying(started, actor, stopped, settle_later=True)
        if written is None or written.unsettled_batch is None:
            done: Future[IngestReport] = Future()
            done.set_result(report)
            return done
        gates = [step for step in self.after_store if getattr(step, "gates_drafts", False)]
        ok = self._run_steps(gates, written.stored, written.at, report)
        return settler.submit(self._settle_written, written, report, ok)

    def _settle_written(
        self, written: PendingWrite, report: IngestReport, gates_ok: bool
    ) -> IngestReport:
        assert written.unsettled_batch is not None
        rest = [step for step in self.after_store if not getattr(step, "gates_drafts", False)]
        ok = self._run_steps(rest, written.stored, written.at, report)
        if gates_ok and ok:
            self._mark_settled(written.unsettled_batch, report)
        return report

    def _started_ahead(
        self, batches: Iterable[Sequence[Mention]], ahead: int
    ) -> Iterator[_Started]:
        """The batches started (`_start`), each handed on once `ahead` later ones are."""
        waiting: deque[_Started] = deque()
        for batch in batches:
            waiting.append(self._start(batch))
            if len(waiting) > ahead:
                yield waiting.popleft()
        yield from waiting

    def _start(self, mentions: Sequence[Mention]) -> _Started:
        """Match, drop what the store already has, and start scoring the rest."""
        elapsed = timed()
        report = IngestReport(received=len(mentions))
        matched = self._match(mentions)
        report.matched = len(matched)
        opt_outs = self._opt_outs(matched)
        fresh = self._drop_known(matched)
        report.duplicates = len(matched) - len(fresh)
        texts = [m for m, _, _ in fresh]
        if self.workers is not None and texts:
            scoring_time = timed()
            pending = self.workers.start(texts, [b for _, b, _ in fresh])
            return _Started(report, fresh, pending, elapsed, scoring_time, opt_outs)
        scores: list[Score] = []
        if texts:
            scoring_time = timed()
            scores = self.scorer.score_batch(texts)
            self.metrics.scored_batch(scoring_time(), len(texts))
        return _Started(report, fresh, scores, elapsed, opt_outs=opt_outs)

    def _opt_outs(self, matched: Sequence[tuple[Mention, str, str]]) -> list[OptOutSeen]:
        """Every opt-out among the matched texts, before known ones are dropped: a STOP
        imported again, or polled again after a crash, is recorded all the same."""
        if self.opt_out_of is None:
            return []
        found = []
        for mention, brand, _ in matched:
            phrase = self.opt_out_of(mention)
            if phrase:
                found.append(OptOutSeen(mention, brand, phrase))
        return found

    def _write(
        self,
        started: _Started,
        source: str | None,
        state: PollState | None,
        actor: str,
        now: datetime | None,
        finishes_poll: bool = False,
        *,
        settle_later: bool = False,
        max_drafts: int | None = None,
    ) -> tuple[IngestReport, PendingWrite | None]:
        """Plan drafts for the scored mentions and store them (with the source's progress).

        Returns the report and what was written (None when nothing was).
        """
        report, fresh, scores = started.report, started.fresh, started.scores
        plans = started.plans  # planned by a worker, when one scored
        if isinstance(scores, PendingScores):
            assert self.workers is not None
            scores, plans = self.workers.result(scores)
            if started.scoring_time is not None:
                self.metrics.scored_batch(started.scoring_time(), len(scores))
            # Kept: a batch the database failed to store is written again from here.
            started.scores, started.plans = scores, plans
        items: list[IngestItem] = []
        for i, ((mention, brand, term), score) in enumerate(zip(fresh, scores, strict=True)):
            draft = None
            if self.drafter is not None and (
                self.draft_filter is None or self.draft_filter(mention, brand)
            ):
                draft = (
                    plans[i]
                    if plans is not None
                    else self.drafter.plan(mention, self.brands[brand], score)
                )
            items.append(IngestItem(mention, brand, term, score, draft))
        if max_drafts is not None:
            report.not_drafted = _keep_most_urgent_drafts(items, max_drafts)
        progress = source is not None and (state is not None or finishes_poll)
        if not items and not started.opt_outs and not progress:
            return report, None
        at = now or self.clock.now()
        succeeded_at = at if finishes_poll and source is not None else None
        write = BatchWrite(items, source, state, actor, succeeded_at, started.opt_outs)
        written = self._commit(write, at, settle_later=settle_later)
        self.metrics.stored_batch(started.elapsed())
        report.new = len(written.stored)
        report.duplicates += len(items) - len(written.stored)
        report.drafts = self._count_drafts(items, written.stored)
        report.stored = written.stored
        report.problems.extend(written.problems)
        return report, written

    def _commit(self, write: BatchWrite, now: datetime, *, settle_later: bool) -> PendingWrite:
        """Write through the group committer; a failed write raises its error here."""
        written = self._group.submit(write, now, settle_later=settle_later)
        if written.error is not None:
            raise written.error
        return written

    def _write_group(self, group: Sequence[PendingWrite]) -> None:
        """Store a group in one transaction, then run the after-store steps on it once."""
        at = max(p.at for p in group)
        try:
            written = self.store.ingest_group([p.write for p in group], at=at)
        except StoreError as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            # One bad batch must not fail the others: write each on its own.
            for pending in group:
                self._write_group([pending])
            return
        everything: list[StoredMention] = []
        for pending, stored in zip(group, written.per_write, strict=True):
            pending.stored = stored
            everything.extend(stored)
        if written.batch_id is not None and len(group) == 1 and group[0].settle_later:
            group[0].unsettled_batch = written.batch_id
        elif written.batch_id is not None:
            report = IngestReport()
            self._after_store(written.batch_id, everything, at, report)
            for pending in group:
                if pending.stored:
                    pending.problems.extend(report.problems)

    @staticmethod
    def _count_drafts(items: Sequence[IngestItem], stored: Sequence[StoredMention]) -> int:
        drafted = {(i.mention.source, i.mention.external_id) for i in items if i.draft is not None}
        return sum(1 for s in stored if (s.mention.source, s.mention.external_id) in drafted)

    def _match(self, mentions: Sequence[Mention]) -> list[tuple[Mention, str, str]]:
        out: list[tuple[Mention, str, str]] = []
        for mention in mentions:
            allowed = self.source_brands.get(mention.source)
            for match in self.matcher.match(mention.full_text):
                if allowed and match.brand not in allowed:
                    continue
                # One mention, one brand: the first configured brand it is about. Its language
                # is stored with it (the source's, else detected) and read by the scorer.
                out.append((with_language(mention), match.brand, match.term))
                break
            else:
                replied = self._reply_to_brand(mention)
                if replied is not None and (not allowed or replied[0] in allowed):
                    out.append((with_language(mention), *replied))
        return out

    def _reply_to_brand(self, mention: Mention) -> tuple[str, str] | None:
        """(brand, why) when an X post answers or addresses a brand's own account without
        naming the brand in its terms.

        X gives the account a reply answers in `in_reply_to_user_id`, and puts the handles it
        answers at the start of its text ("@acme STOP"); a post that tags the brand's account
        anywhere is addressed to it too.
        """
        if mention.source_kind != "x" or not self.reply_brands:
            return None
        user = mention.in_reply_to_user.strip().lower()
        if user and user in self.reply_brands:
            return self.reply_brands[user], f"reply to account {user}"
        if "@" not in mention.text:
            return None
        for word in mention.text.split():
            if word.startswith("@"):
                handle = "@" + word[1:].rstrip(".,:;!?'\"").lower()
                if handle in self.reply_brands:
                    return self.reply_brands[handle], f"addressed to {handle}"
        return None

    def _drop_known(
        self, matched: list[tuple[Mention, str, str]]
    ) -> list[tuple[Mention, str, str]]:
        by_source: dict[str, list[str]] = {}
        for mention, _, _ in matched:
            by_source.setdefault(mention.source, []).append(mention.external_id)
        known: set[tuple[str, str]] = set()
        for source, ids in by_source.items():
            known.update((source, i) for i in self.store.known_external_ids(source, ids))
        seen: set[tuple[str, str]] = set()
        fresh = []
        for item in matched:
            key = (item[0].source, item[0].external_id)
            if key in known or key in seen:
                continue
            seen.add(key)
            fresh.append(item)
        return fresh

    def _after_store(
        self, batch_id: int, stored: Sequence[StoredMention], now: datetime, report: IngestReport
    ) -> None:
        """Run every step; only when all succeed are the mentions marked settled.

        A crash or a failing step leaves them unsettled, and `settle_pending` runs the steps
        again later (they are idempotent by mention id), so an opt-out is never lost.
        """
        if self._run_steps(self.after_store, stored, now, report):
            self._mark_settled(batch_id, report)

    @staticmethod
    def _run_steps(
        steps: Sequence[AfterStore],
        stored: Sequence[StoredMention],
        now: datetime,
        report: IngestReport,
    ) -> bool:
        """Run `steps` in order, each whatever the others did; True if all succeeded."""
        ok = True
        for step in steps:
            try:
                step(stored, now)
            except ListenerError as exc:
                ok = False
                report.problems.append(f"{step.name}: {exc}")
                log.error("after-store step %s failed: %s", step.name, exc)
            except Exception as exc:  # a bug in one step must not lose the batch's report
                ok = False
                report.problems.append(f"{step.name}: internal error: {exc!r}")
                log.exception("after-store step %s crashed", step.name)
        return ok

    def _mark_settled(self, batch_id: int, report: IngestReport) -> None:
        try:
            self.store.mark_settled(batch_id)
        except StoreError as exc:  # they stay unsettled and are settled again later
            report.problems.append(f"settling: {exc}")

    def settle_pending(self, *, grace: timedelta = timedelta(minutes=2)) -> int:
        """Re-run the after-store steps for mentions a crash or failure left unsettled.

        Only batches stored more than `grace` ago are taken, so a batch still being processed
        by this or another instance is left alone. Returns how many were settled.
        """
        settled = 0
        for batch in self.store.unsettled(stored_before=self.clock.now() - grace):
            report = IngestReport()
            self._after_store(batch.id, batch.mentions, self.clock.now(), report)
            if report.problems:
                log.error(
                    "settling %d mention(s) failed: %s",
                    len(batch.mentions),
                    "; ".join(report.problems),
                )
                continue
            settled += len(batch.mentions)
        if settled:
            log.info("settled %d mention(s) left over from an interrupted run", settled)
        return settled

    def poll(self, source: Source) -> PollReport:
        """Poll one source once; never raises (a failure is recorded as the source's error)."""
        report = self._poll(source)
        self.metrics.poll_done(
            source.name,
            _outcome(report),
            fetched=report.fetched,
            stored=report.new,
            duplicates=report.duplicates,
        )
        return report

    def _poll(self, source: Source) -> PollReport:
        report = PollReport(source=source.name)
        now = self.clock.now()
        try:
            retry_at, state = self.store.sources.poll_start(source.name)
            if retry_at is not None and retry_at > now:
                report.skipped = f"rate limited until {retry_at:%Y-%m-%d %H:%M:%S} UTC"
                return report
            # Each batch is stored once the next one is fetched, so the last one can carry the
            # poll's success mark: one transaction (and one wait for the group commit) fewer
            # per poll. A crash in between loses nothing: a batch's cursor is saved with it.
            held: FetchBatch | None = None
            try:
                for batch in source.fetch(state):
                    report.notes.extend(batch.notes)
                    if batch.not_modified:
                        report.not_modified = True
                        continue
                    if held is not None:
                        # Let go of it first: if storing it fails, nothing later is stored.
                        waiting, held = held, None
                        self._ingest_polled(report, source.name, waiting, finishes_poll=False)
                    held = batch
            except Exception:
                # The next page failed (a 429 half-way through X's pages): what was fetched
                # before it is stored all the same, so the requests it took are not wasted.
                if held is not None:
                    self._ingest_polled(report, source.name, held, finishes_poll=False)
                raise
            if held is not None:
                self._ingest_polled(report, source.name, held, finishes_poll=True)
            else:  # nothing new (a 304, an empty page): the success mark alone
                self.ingest((), source=source.name, finishes_poll=True)
        except RateLimited as exc:
            report.error = str(exc)
            report.retry_at = exc.retry_at
            self._record_failure(source.name, str(exc), exc.retry_at)
        except (SourceError, StoreError) as exc:
            report.error = str(exc)
            self._record_failure(source.name, str(exc))
        except Exception as exc:  # a bug in one source must not stop the others
            log.exception("source %s crashed", source.name, extra={"source": source.name})
            report.error = f"internal error while polling: {exc!r} (see the log)"
            self._record_failure(source.name, report.error)
        return report

    def _ingest_polled(
        self, report: PollReport, source: str, batch: FetchBatch, *, finishes_poll: bool
    ) -> None:
        cap = self.max_drafts_per_poll
        result = self.ingest(
            batch.mentions,
            source=source,
            state=batch.state,
            finishes_poll=finishes_poll,
            max_drafts=None if cap is None else max(cap - report.drafts, 0),
        )
        report.fetched += result.received
        report.matched += result.matched
        report.new += result.new
        report.duplicates += result.duplicates
        report.drafts += result.drafts
        report.not_drafted += result.not_drafted
        report.notes.extend(result.problems)
        if finishes_poll and report.not_drafted:
            note = (
                f"{report.not_drafted:,} mention(s) got no reply draft: this poll reached the "
                f"limit of {cap:,} drafts per source (outreach.max_drafts_per_poll); they are "
                "stored and scored, and the most urgent were drafted"
            )
            report.notes.append(note)
            log.warning("%s: %s", source, note)

    def _record_failure(self, name: str, error: str, retry_at: datetime | None = None) -> None:
        try:
            self.store.sources.record_failure(name, error, self.clock.now(), retry_at)
        except StoreError as exc:
            log.error("could not record the failure of %s: %s", name, exc, extra={"source": name})


def _outcome(report: PollReport) -> str:
    """The poll's outcome label: ok, not_modified, failed, rate_limited or skipped."""
    if report.skipped:
        return "skipped"
    if report.retry_at is not None:
        return "rate_limited"
    if report.error:
        return "failed"
    return "not_modified" if report.not_modified else "ok"
