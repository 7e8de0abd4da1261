"""Send approved replies exactly once, through an outbox in the draft table.

One pass (`Dispatcher.run_once`, run by the service every `outreach.dispatch_every` and by
`listener dispatch`):

1. Recover: a draft left in `sending` by a process that died mid-send is marked failed with
   `needs_check`: it may or may not be public, so a person looks before anything is resent.
2. For each approved draft that is due, in one short write transaction: check do-not-contact
   (cancel), an incident holding the author's replies (held under it), a text echoing one just
   sent to someone else (back to review), quiet hours, the author's frequency cap and the
   channel's send rate (hold, with the reason and the retry time on the draft), then claim it
   approved → sending with a compare-and-set and COMMIT, before the platform is called.
3. Publish outside any transaction; record sent (platform id), failed (error), back to approved
   with a retry time (429, could not connect) or failed + needs_check (outcome unknown).
4. Note complaint cases whose SLA is breached, once.

Two dispatchers at once are safe: the claim is a compare-and-set under the database's write
lock (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock), so each draft is claimed once and
cap checks see each other's sends.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from listener.alerts.message import NewAlert
from listener.clock import Clock
from listener.domain import Channel, Draft, DraftStatus, Statement, StatementStatus
from listener.errors import DispatchError, ListenerError, NotAllowed, SourceDisabled
from listener.ops.metrics import Metrics
from listener.outreach.caps import Hold
from listener.outreach.cases import Case, CaseStatus
from listener.outreach.claims import (
    Cancel,
    Claim,
    HoldForIncident,
    Reword,
    SendDecision,
    SendFacts,
    decide_manual_send,
    decide_send,
)
from listener.outreach.publishers.base import (
    ChannelUnusable,
    OutcomeUnknown,
    Publisher,
    RetryLater,
    StatementPublisher,
)
from listener.settings import Settings
from listener.store import Store, StuckSend

log = logging.getLogger("listener.dispatch")

AUTOMATIC_CHANNELS = (Channel.X, Channel.EMAIL)
MAX_ATTEMPTS = 5
DEFAULT_RETRY = timedelta(minutes=1)
CHANNEL_RETRY = timedelta(minutes=15)

PublisherFactory = Callable[[Channel], Publisher]
SlaAlert = Callable[[Case, list[str], datetime], NewAlert | None]


@dataclass
class DispatchReport:
    """What one pass did, by draft id."""

    sent: dict[int, str] = field(default_factory=dict)
    held: dict[int, str] = field(default_factory=dict)
    cancelled: dict[int, str] = field(default_factory=dict)
    retrying: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    needs_check: dict[int, str] = field(default_factory=dict)
    recovered: dict[int, str] = field(default_factory=dict)
    sla_breaches: list[int] = field(default_factory=list)
    # Holding statements, by statement id: posted (platform id), waiting or retrying (why),
    # failed or needing a person to check the platform (the error).
    statements_posted: dict[int, str] = field(default_factory=dict)
    statements_waiting: dict[int, str] = field(default_factory=dict)
    statements_failed: dict[int, str] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return (
            len(self.failed)
            + len(self.needs_check)
            + len(self.recovered)
            + len(self.statements_failed)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": _keyed(self.sent),
            "held": _keyed(self.held),
            "cancelled": _keyed(self.cancelled),
            "retrying": _keyed(self.retrying),
            "failed": _keyed(self.failed),
            "needs_check": _keyed(self.needs_check),
            "recovered": _keyed(self.recovered),
            "sla_breaches": self.sla_breaches,
            "statements_posted": _keyed(self.statements_posted),
            "statements_waiting": _keyed(self.statements_waiting),
            "statements_failed": _keyed(self.statements_failed),
        }

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.held)} waiting, {len(self.cancelled)} cancelled "
            f"(do not contact), {len(self.retrying)} to retry, {len(self.failed)} failed, "
            f"{len(self.needs_check) + len(self.recovered)} need a person to check the platform"
        )


def alert_sla_breach(settings: Settings) -> SlaAlert:
    """An alert for the responders, queued in the alert outbox in the breach's transaction."""

    def alert(case: Case, kinds: list[str], now: datetime) -> NewAlert | None:
        missed = " and ".join(k.replace("_", " ") for k in kinds)
        return NewAlert(
            "case.sla_breach",
            case.brand,
            "medium",
            f"Case {case.id} ({case.author}, {case.brand}) missed its {missed} target",
            {
                "kind": "case.sla_breach",
                "case_id": case.id,
                "author": case.author,
                "status": case.status.value,
                "owner": case.owner or None,
                "breaches": kinds,
                "opened_at": case.opened_at.isoformat(),
                "text": f"Opened {case.opened_at:%Y-%m-%d %H:%M} UTC; status {case.status.value}; "
                f"owner {case.owner or 'nobody'}.",
                "url": f"{settings.web.public_url}/cases/{case.id}",
            },
            f"case:{case.id}:sla",
        )

    return alert


def _keyed(values: Mapping[int, str]) -> dict[str, str]:
    return {str(k): v for k, v in sorted(values.items())}


def instance_name() -> str:
    """host:pid:token: who claimed a draft, so a restart can tell a dead claimer from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        # A killed child its parent has not reaped yet is a zombie: gone for our purposes.
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class Dispatcher:
    """Sends approved drafts; one instance per process (or per thread, each with its name)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        publishers: Mapping[Channel, Publisher] | None = None,
        environ: Mapping[str, str] | None = None,
        instance: str | None = None,
        batch: int = 50,
        on_sla_breach: SlaAlert | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.metrics.prepare_channels("reply", (c.value for c in AUTOMATIC_CHANNELS))
        self.store = store
        self.clock = clock
        self.instance = instance or instance_name()
        self.batch = batch
        self.on_sla_breach = on_sla_breach or alert_sla_breach(settings)
        self._environ = dict(os.environ if environ is None else environ)
        self._publishers: dict[Channel, Publisher] = dict(publishers or {})
        self._unavailable: dict[Channel, str] = {}
        self._broken: dict[Channel, str] = {}  # channels that refused us during this pass
        self._built = publishers is not None
        self._brands = {b.name: b for b in settings.brands}

    # -- publishers --------------------------------------------------------------------------

    def _build_publishers(self) -> None:
        if self._built:
            return
        self._built = True
        from listener.outreach.publishers.email import build_email_publisher
        from listener.outreach.publishers.x_reply import build_x_publisher

        builders: dict[Channel, Callable[[], Publisher]] = {
            Channel.X: lambda: build_x_publisher(self.settings.x_publish, self._environ),
            Channel.EMAIL: lambda: build_email_publisher(
                self.settings.email, self._brands, self._environ
            ),
        }
        for channel, build in builders.items():
            try:
                self._publishers[channel] = build()
            except SourceDisabled as exc:
                self._unavailable[channel] = str(exc)

    def close(self) -> None:
        for publisher in self._publishers.values():
            publisher.close()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        self._build_publishers()
        self._broken = {}
        now = self.clock.now()
        self.recover(report, now)
        channels = [c.value for c in AUTOMATIC_CHANNELS]
        due = self.store.outreach.due_drafts(channels=channels, now=now, limit=self.batch)
        for draft_id in due:
            try:
                self._dispatch_one(draft_id, report)
            except ListenerError as exc:  # e.g. the database went away: stop this pass
                log.error(
                    "dispatch of draft %s stopped: %s", draft_id, exc, extra={"draft_id": draft_id}
                )
                report.failed.setdefault(draft_id, str(exc))
                break
        self.send_statements(report)
        self.check_slas(report, self.clock.now())
        return report

    def recover(self, report: DispatchReport, now: datetime) -> None:
        """Hand drafts stuck in `sending` by a dead process to a person; never resend them."""
        channels = {
            r.id: r.channel
            for r in self.store.outreach.stuck_in_sending()
            if self._is_stuck(r.claimed_by, r.claimed_at, now)
        }
        suspects = list(channels)
        if not suspects:
            return

        def error_for(row: StuckSend) -> str:
            where = "X" if row.channel == Channel.X.value else row.channel
            return (
                f"sending was interrupted (claimed by {row.claimed_by or 'unknown'} at "
                f"{row.claimed_at:%Y-%m-%d %H:%M:%S} UTC, which then stopped): it may or "
                f"may not have been posted on {where}. Check {where}: if it is there, mark "
                "it as sent; if not, reopen and approve it again. It is never resent "
                "automatically"
            )

        recovered = self.store.outreach.fail_stuck(suspects, error_for, actor=self.instance, at=now)
        report.recovered.update(recovered)
        for draft_id in recovered:
            self.metrics.delivery("reply", channels[draft_id], "unknown")

    def _is_stuck(self, claimed_by: str, claimed_at: datetime | None, now: datetime) -> bool:
        if claimed_at is None:
            return True
        host, _, rest = claimed_by.partition(":")
        pid_text = rest.partition(":")[0]
        if host == socket.gethostname() and pid_text.isdigit():
            pid = int(pid_text)
            if pid != os.getpid() and _process_gone(pid):
                return True
        return now - claimed_at > self.settings.outreach.stuck_after

    def _dispatch_one(self, draft_id: int, report: DispatchReport) -> None:
        now = self.clock.now()
        decision, facts = self.store.outreach.claim_for_sending(
            draft_id,
            now,
            lambda facts: self._decide(facts, now),
            instance=self.instance,
            cap_period=self.settings.outreach.cap_period,
            echo_window=self.settings.outreach.echo_window,
        )
        draft = facts.draft
        if isinstance(decision, Cancel):
            report.cancelled[draft.id] = decision.reason
            return
        if isinstance(decision, Hold | HoldForIncident | Reword):
            report.held[draft.id] = decision.reason
            return
        if not isinstance(decision, Claim):
            return  # another dispatcher or a person got there first, or it is not due yet
        # Committed: the draft is `sending` and logged. Only now may the platform hear of it.
        publisher = self._publishers[draft.channel]
        try:
            platform_id = publisher.publish(draft, facts.mention)
        except ChannelUnusable as exc:
            retry_at = self.clock.now() + CHANNEL_RETRY
            self._broken[draft.channel] = str(exc)
            self._retry(draft, f"{exc}; next try {retry_at:%H:%M} UTC", retry_at, report)
        except RetryLater as exc:
            retry_at = exc.retry_at or self.clock.now() + DEFAULT_RETRY
            reason = f"{exc} at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
            self._retry(draft, reason, retry_at, report)
        except OutcomeUnknown as exc:
            self._fail(draft, str(exc), needs_check=True, report=report)
        except DispatchError as exc:
            attempts = self._attempts(draft.id)
            if exc.retryable and attempts < MAX_ATTEMPTS:
                retry_at = self.clock.now() + DEFAULT_RETRY * (2 ** (attempts - 1))
                reason = (
                    f"{exc} (attempt {attempts} of {MAX_ATTEMPTS}); "
                    f"retry at {retry_at:%H:%M:%S} UTC"
                )
                self._retry(draft, reason, retry_at, report)
            else:
                self._fail(draft, str(exc), needs_check=False, report=report)
        except Exception as exc:  # a bug: we cannot know whether it went out
            log.exception(
                "publishing draft %s crashed",
                draft.id,
                extra={"draft_id": draft.id, "brand": draft.brand},
            )
            self._fail(
                draft,
                f"internal error while sending ({exc!r}): it may or may not have gone out; "
                "check the platform",
                needs_check=True,
                report=report,
            )
        else:
            self.store.outreach.mark_sent(
                draft.id,
                platform_id=platform_id,
                actor=self.instance,
                at=self.clock.now(),
                from_statuses=(DraftStatus.SENDING.value, DraftStatus.FAILED.value),
                claimed_by=self.instance,
            )
            report.sent[draft.id] = platform_id
            self.metrics.delivery("reply", draft.channel.value, "sent")

    def _decide(self, facts: SendFacts, now: datetime) -> SendDecision:
        """The send rule (`listener.outreach.claims.decide_send`) with what this dispatcher
        knows of its channels: none built, or one that refused us during this pass."""
        draft = facts.draft
        return decide_send(
            facts,
            now=now,
            channel_hold=self._channel_hold(draft, now),
            brand=self._brands.get(draft.brand),
            outreach=self.settings.outreach,
        )

    def _channel_hold(self, draft: Draft, now: datetime) -> Hold | None:
        if draft.channel not in self._publishers:
            reason = self._unavailable.get(draft.channel, f"no publisher for {draft.channel}")
            return Hold(reason, None)
        if draft.channel in self._broken:
            return Hold(self._broken[draft.channel], now + CHANNEL_RETRY)
        return None

    def _attempts(self, draft_id: int) -> int:
        return self.store.outreach.attempts_of(draft_id)

    def _retry(self, draft: Draft, reason: str, retry_at: datetime, report: DispatchReport) -> None:
        self.store.outreach.retry_later(
            draft.id,
            reason=reason,
            retry_at=retry_at,
            actor=self.instance,
            at=self.clock.now(),
            claimed_by=self.instance,
        )
        report.retrying[draft.id] = reason
        self.metrics.delivery("reply", draft.channel.value, "retry")

    def _fail(self, draft: Draft, error: str, *, needs_check: bool, report: DispatchReport) -> None:
        self.store.outreach.mark_failed(
            draft.id,
            error=error,
            needs_check=needs_check,
            actor=self.instance,
            at=self.clock.now(),
            claimed_by=self.instance,
        )
        (report.needs_check if needs_check else report.failed)[draft.id] = error
        self.metrics.delivery("reply", draft.channel.value, "unknown" if needs_check else "failed")

    # -- holding statements ------------------------------------------------------------------

    def send_statements(self, report: DispatchReport) -> None:
        """Hand statements stuck in `sending` by a dead process to a person, then post the
        approved ones that are due (each claimed and committed before the platform hears)."""
        now = self.clock.now()
        stuck = [
            s.id
            for s in self.store.statements.sending()
            if self._is_stuck(s.claimed_by, s.claimed_at, now)
        ]
        if stuck:
            error = (
                "posting was interrupted (its process stopped): it may or may not be public. "
                "Check the platform: if it is there, record it as posted; if not, cancel it "
                "and draft it again. It is never posted again automatically"
            )
            for statement_id in self.store.statements.fail_stuck(
                stuck, error, actor=self.instance, at=now
            ):
                report.statements_failed[statement_id] = error
        for statement_id in self.store.statements.due(now=now):
            try:
                self.post_statement(statement_id, report)
            except ListenerError as exc:
                log.error("posting statement %s stopped: %s", statement_id, exc)
                report.statements_failed.setdefault(statement_id, str(exc))
                break

    def post_statement(self, statement_id: int, report: DispatchReport | None = None) -> Statement:
        """Post an approved statement now, at most once: claimed `sending` and committed,
        then posted. A statement already posted (or taken by another dispatcher) is left as it
        is; one that is not approved, or on the manual channel, is refused with the reason."""
        self._build_publishers()
        report = report if report is not None else DispatchReport()
        statement = self.store.statements.get(statement_id)
        if statement.status in (StatementStatus.POSTED, StatementStatus.SENDING):
            return statement  # posted once already, or being posted: nothing more to do
        if statement.status is not StatementStatus.APPROVED:
            raise NotAllowed(
                f"statement {statement_id} is {statement.status.value}: only an approved "
                "statement is posted"
            )
        if statement.channel is Channel.MANUAL:
            raise NotAllowed(
                f"statement {statement_id} is posted by a person: post it, then record where "
                "(listener statements posted ID --url URL)"
            )
        publisher = self._publishers.get(statement.channel)
        if publisher is None or not hasattr(publisher, "post_statement"):
            reason = self._unavailable.get(
                statement.channel, f"{statement.channel.value} cannot post statements here"
            )
            report.statements_waiting[statement_id] = reason
            return statement
        poster: StatementPublisher = publisher  # type: ignore[assignment]
        claimed = self.store.statements.claim(
            statement_id, instance=self.instance, at=self.clock.now()
        )
        if claimed is None:
            return self.store.statements.get(statement_id)
        # Committed: the statement is `sending`. Only now may the platform hear of it.
        brand = self._brands.get(claimed.brand)
        speaks_as = brand.speaks_as if brand else claimed.brand
        handle = brand.x_handle if brand else ""
        store = self.store.statements
        try:
            platform_id, url = poster.post_statement(claimed, speaks_as, handle)
        except (ChannelUnusable, RetryLater) as exc:
            retry_at = getattr(exc, "retry_at", None) or self.clock.now() + CHANNEL_RETRY
            self._statement_retry(
                statement_id, f"{exc}; next try {retry_at:%H:%M} UTC", retry_at, report
            )
        except OutcomeUnknown as exc:
            self._statement_failed(statement_id, str(exc), True, report)
        except DispatchError as exc:
            if exc.retryable:
                retry_at = self.clock.now() + DEFAULT_RETRY
                reason = f"{exc}; next try {retry_at:%H:%M:%S} UTC"
                self._statement_retry(statement_id, reason, retry_at, report)
            else:
                self._statement_failed(statement_id, str(exc), False, report)
        except Exception as exc:  # a bug: we cannot know whether it went out
            log.exception("posting statement %s crashed", statement_id)
            error = (
                f"internal error while posting ({exc!r}): it may or may not be public; check "
                "the platform"
            )
            self._statement_failed(statement_id, error, True, report)
        else:
            store.mark_posted(
                statement_id,
                platform_id=platform_id,
                url=url,
                actor=self.instance,
                at=self.clock.now(),
            )
            report.statements_posted[statement_id] = platform_id
        return self.store.statements.get(statement_id)

    def _statement_retry(
        self, statement_id: int, reason: str, retry_at: datetime, report: DispatchReport
    ) -> None:
        """Back to approved with a retry time: the platform certainly did not post it."""
        self.store.statements.retry_later(
            statement_id,
            reason=reason,
            retry_at=retry_at,
            actor=self.instance,
            at=self.clock.now(),
        )
        report.statements_waiting[statement_id] = reason

    def _statement_failed(
        self, statement_id: int, error: str, needs_check: bool, report: DispatchReport
    ) -> None:
        self.store.statements.mark_failed(
            statement_id,
            error=error,
            needs_check=needs_check,
            actor=self.instance,
            at=self.clock.now(),
        )
        report.statements_failed[statement_id] = error

    # -- people's actions --------------------------------------------------------------------

    def mark_sent(
        self, draft_id: int, *, actor: str, platform_id: str = "", note: str = ""
    ) -> Draft:
        """A person posted it by hand (manual channel), or checked that a doubtful send is up.

        A manual draft must be approved and pass the same rules as any send (do-not-contact,
        quiet hours, frequency cap); a failed draft flagged `needs_check` is recorded as it is.
        """
        now = self.clock.now()
        brand = self._brands.get
        return self.store.outreach.record_posted_by_hand(
            draft_id,
            actor=actor,
            at=now,
            platform_id=platform_id,
            note=note,
            cap_period=self.settings.outreach.cap_period,
            echo_window=self.settings.outreach.echo_window,
            decide=lambda facts: decide_manual_send(
                facts, now=now, brand=brand(facts.draft.brand), outreach=self.settings.outreach
            ),
        )

    # -- SLAs --------------------------------------------------------------------------------

    def check_slas(self, report: DispatchReport, now: datetime) -> None:
        """Note each open case that breached its SLA, once, and queue an alert for it (by default
        in the alert outbox, which the alert dispatcher routes to the configured channels)."""
        outreach = self.settings.outreach
        soonest = min(outreach.first_response_sla, outreach.resolution_sla)
        cases = self.store.outreach.cases_to_check_for_sla(opened_before=now - soonest)
        for case in cases:
            figures = case.figures(now, outreach.first_response_sla, outreach.resolution_sla)
            if not figures.breached or case.status is CaseStatus.CLOSED_NOT_COMPLAINT:
                continue
            alert = self.on_sla_breach(case, figures.breach_kinds, now)
            if not self.store.outreach.note_sla_breach(
                case, kinds=figures.breach_kinds, at=now, alert=alert
            ):
                continue
            log.warning(
                "case %s (%s, %s) breached its SLA: %s",
                case.id,
                case.brand,
                case.author,
                ", ".join(figures.breach_kinds),
            )
            report.sla_breaches.append(case.id)
