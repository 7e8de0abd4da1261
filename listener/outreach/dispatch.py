"""Send approved replies exactly once, through an outbox in the draft table.

One pass (`Dispatcher.run_once`, run by the service every `outreach.dispatch_every` and by
`listener dispatch`):

1. Recover: a draft left in `sending` by a process that died mid-send is marked failed with
   `needs_check`: it may or may not be public, so a person looks before anything is resent.
2. For each approved draft that is due, in one short write transaction: check do-not-contact
   (cancel), quiet hours, the author's frequency cap and the channel's send rate (hold, with the
   reason and the retry time on the draft), then claim it approved → sending with a
   compare-and-set and COMMIT, before the platform is called.
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
from typing import Any

from listener.clock import Clock
from listener.domain import Channel, Draft, DraftStatus
from listener.errors import DispatchError, ListenerError, NotAllowed, SourceDisabled
from listener.ops.metrics import Metrics
from listener.outreach.caps import Hold, author_cap_hold, channel_rate_hold, quiet_hours_hold
from listener.outreach.cases import Case, CaseStatus
from listener.outreach.optouts import mention_opt_out
from listener.outreach.publishers.base import (
    ChannelUnusable,
    OutcomeUnknown,
    Publisher,
    RetryLater,
)
from listener.outreach.review import ReviewAction, names_brand
from listener.settings import Settings
from listener.store import Store
from listener.store import outreach as q
from listener.store.drafts import apply_action, get_draft

log = logging.getLogger("listener.dispatch")

AUTOMATIC_CHANNELS = (Channel.X, Channel.EMAIL)
MAX_ATTEMPTS = 5
DEFAULT_RETRY = timedelta(minutes=1)
CHANNEL_RETRY = timedelta(minutes=15)

PublisherFactory = Callable[[Channel], Publisher]
SlaAlert = Callable[[Any, Case, list[str], datetime], None]


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

    @property
    def problems(self) -> int:
        return len(self.failed) + len(self.needs_check) + len(self.recovered)

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
        }

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.held)} waiting, {len(self.cancelled)} cancelled "
            f"(do not contact), {len(self.retrying)} to retry, {len(self.failed)} failed, "
            f"{len(self.needs_check) + len(self.recovered)} need a person to check the platform"
        )


def alert_sla_breach(settings: Settings) -> SlaAlert:
    """An alert for the responders, queued in the alert outbox in the breach's transaction."""
    from listener.store.alerts import enqueue_alert

    def alert(conn: Any, case: Case, kinds: list[str], now: datetime) -> None:
        missed = " and ".join(k.replace("_", " ") for k in kinds)
        enqueue_alert(
            conn,
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
            now,
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
        with self.store.read() as conn:
            due = q.due_drafts(conn, channels=channels, now=now, limit=self.batch)
        for draft_id in due:
            try:
                self._dispatch_one(draft_id, report)
            except ListenerError as exc:  # e.g. the database went away: stop this pass
                log.error(
                    "dispatch of draft %s stopped: %s", draft_id, exc, extra={"draft_id": draft_id}
                )
                report.failed.setdefault(draft_id, str(exc))
                break
        self.check_slas(report, self.clock.now())
        return report

    def recover(self, report: DispatchReport, now: datetime) -> None:
        """Hand drafts stuck in `sending` by a dead process to a person; never resend them."""
        with self.store.read() as conn:  # an idle pass takes no write lock
            suspects = [
                r.id
                for r in q.stuck_in_sending(conn)
                if self._is_stuck(r.claimed_by, r.claimed_at, now)
            ]
        if not suspects:
            return
        with self.store.write() as conn:
            q.lock_dispatch(conn)
            for row in q.stuck_in_sending(conn):
                if row.id not in suspects:
                    continue
                where = "X" if row.channel == Channel.X.value else row.channel
                error = (
                    f"sending was interrupted (claimed by {row.claimed_by or 'unknown'} at "
                    f"{row.claimed_at:%Y-%m-%d %H:%M:%S} UTC, which then stopped): it may or "
                    f"may not have been posted on {where}. Check {where}: if it is there, mark "
                    "it as sent; if not, reopen and approve it again. It is never resent "
                    "automatically"
                )
                if q.mark_failed(
                    conn, row.id, error=error, needs_check=True, actor=self.instance, at=now
                ):
                    report.recovered[row.id] = error
                    self.metrics.delivery("reply", row.channel, "unknown")

    def _unsettled_opt_out(
        self, conn: Any, brand: str, keys: list[str], now: datetime
    ) -> q.Contact | None:
        """An opt-out by this author in a stored mention whose after-store steps have not run
        (a process killed right after its commit): recorded now, under the send lock, so the
        send it would have missed is refused."""
        for mention_id, title, text in q.unsettled_texts_by(conn, brand, keys):
            phrase = mention_opt_out(title, text)
            if phrase is None:
                continue
            reason = f'opted out ("{phrase}") in mention {mention_id}'
            for key in keys:
                q.add_contact(
                    conn,
                    brand=brand,
                    author=key,
                    reason=reason,
                    actor=self.instance,
                    at=now,
                    mention_id=mention_id,
                )
            return q.blocked(conn, brand, keys)
        return None

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
        with self.store.write() as conn:
            q.lock_dispatch(conn)
            draft = get_draft(conn, draft_id)
            if draft.status is not DraftStatus.APPROVED:
                return  # another dispatcher or a person got there first
            if draft.next_attempt_at is not None and draft.next_attempt_at > now:
                return
            stored = q.mention_of(conn, draft)
            keys = q.identities(stored.mention, draft)
            contact = q.blocked(conn, draft.brand, keys) or self._unsettled_opt_out(
                conn, draft.brand, keys, now
            )
            if contact is not None:
                reason = f"do not contact: {contact.reason}"
                # Putting someone on the list cancels their drafts already; this one may be.
                if get_draft(conn, draft.id).status is DraftStatus.APPROVED:
                    apply_action(
                        conn,
                        draft.id,
                        ReviewAction.CANCEL,
                        actor=self.instance,
                        at=now,
                        reason=reason,
                    )
                report.cancelled[draft.id] = reason
                return
            stop = self._hold(conn, draft, q.primary_key_of(stored.mention, draft), now)
            if stop is not None:
                q.hold(conn, draft, reason=stop.reason, until=stop.until, at=now)
                report.held[draft.id] = stop.reason
                return
            author = q.primary_key_of(stored.mention, draft)
            if not q.claim(conn, draft, author=author, instance=self.instance, at=now):
                return
        # Committed: the draft is `sending` and logged. Only now may the platform hear of it.
        publisher = self._publishers[draft.channel]
        try:
            platform_id = publisher.publish(draft, stored.mention)
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
            with self.store.write() as conn:
                q.mark_sent(
                    conn,
                    draft.id,
                    platform_id=platform_id,
                    actor=self.instance,
                    at=self.clock.now(),
                    from_statuses=(DraftStatus.SENDING.value, DraftStatus.FAILED.value),
                    claimed_by=self.instance,
                )
            report.sent[draft.id] = platform_id
            self.metrics.delivery("reply", draft.channel.value, "sent")

    def _hold(self, conn: Any, draft: Draft, author: str, now: datetime) -> Hold | None:
        if draft.channel not in self._publishers:
            reason = self._unavailable.get(draft.channel, f"no publisher for {draft.channel}")
            return Hold(reason, None)
        if draft.channel in self._broken:
            return Hold(self._broken[draft.channel], now + CHANNEL_RETRY)
        brand = self._brands.get(draft.brand)
        if brand is not None and not names_brand(draft.text, brand.reply_names):
            # Edits are checked for this; a reply approved before that check, or written to
            # the database some other way, still never goes out without saying who writes.
            return Hold(
                f"the reply does not name the brand ({brand.speaks_as}); edit it so the reader "
                "knows who is writing",
                None,
            )
        outreach = self.settings.outreach
        return (
            quiet_hours_hold(draft.brand, brand.quiet_hours if brand else None, now)
            or author_cap_hold(
                author,
                q.sends_to(conn, draft.brand, author, now - outreach.cap_period),
                max_per_author=outreach.max_per_author,
                period=outreach.cap_period,
                now=now,
            )
            or channel_rate_hold(
                draft.channel.value,
                q.sends_on(conn, draft.channel.value, now - timedelta(minutes=1)),
                per_minute=outreach.send_rate_per_minute,
                now=now,
            )
        )

    def _attempts(self, draft_id: int) -> int:
        with self.store.read() as conn:
            return q.attempts_of(conn, draft_id)

    def _retry(self, draft: Draft, reason: str, retry_at: datetime, report: DispatchReport) -> None:
        with self.store.write() as conn:
            q.retry_later(
                conn,
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
        with self.store.write() as conn:
            q.mark_failed(
                conn,
                draft.id,
                error=error,
                needs_check=needs_check,
                actor=self.instance,
                at=self.clock.now(),
                claimed_by=self.instance,
            )
        (report.needs_check if needs_check else report.failed)[draft.id] = error
        self.metrics.delivery("reply", draft.channel.value, "unknown" if needs_check else "failed")

    # -- people's actions --------------------------------------------------------------------

    def mark_sent(
        self, draft_id: int, *, actor: str, platform_id: str = "", note: str = ""
    ) -> Draft:
        """A person posted it by hand (manual channel), or checked that a doubtful send is up.

        A manual draft must be approved and pass the same rules as any send (do-not-contact,
        quiet hours, frequency cap); a failed draft flagged `needs_check` is recorded as it is.
        """
        now = self.clock.now()
        with self.store.write() as conn:
            q.lock_dispatch(conn)
            draft = get_draft(conn, draft_id)
            stored = q.mention_of(conn, draft)
            author = q.primary_key_of(stored.mention, draft)
            if draft.status is DraftStatus.APPROVED and draft.channel is Channel.MANUAL:
                keys = q.identities(stored.mention, draft)
                contact = q.blocked(conn, draft.brand, keys) or self._unsettled_opt_out(
                    conn, draft.brand, keys, now
                )
                if contact is not None:
                    raise NotAllowed(
                        f"{contact.author} is on the do-not-contact list of {draft.brand} "
                        f"({contact.reason}); do not post it"
                    )
                stop = self._manual_hold(conn, draft, author, now)
                if stop is not None:
                    raise NotAllowed(f"not now: {stop.reason}")
                if not q.claim(conn, draft, author=author, instance=actor, at=now):
                    raise NotAllowed(f"draft {draft_id} changed while you were looking; reload")
                return q.mark_sent(
                    conn, draft_id, platform_id=platform_id, actor=actor, at=now, note=note
                )
            if draft.status is DraftStatus.FAILED and draft.needs_check:
                return q.mark_sent(
                    conn,
                    draft_id,
                    platform_id=platform_id or draft.platform_id,
                    actor=actor,
                    at=now,
                    from_statuses=(DraftStatus.FAILED.value,),
                    note=note or "a person checked the platform: it is posted",
                )
            raise NotAllowed(
                f"draft {draft_id} is {draft.status.value} on {draft.channel.value}; only an "
                "approved manual reply, or a failed one flagged for checking, can be marked sent"
            )

    def _manual_hold(self, conn: Any, draft: Draft, author: str, now: datetime) -> Hold | None:
        brand = self._brands.get(draft.brand)
        outreach = self.settings.outreach
        return quiet_hours_hold(
            draft.brand, brand.quiet_hours if brand else None, now
        ) or author_cap_hold(
            author,
            q.sends_to(conn, draft.brand, author, now - outreach.cap_period),
            max_per_author=outreach.max_per_author,
            period=outreach.cap_period,
            now=now,
        )

    # -- SLAs --------------------------------------------------------------------------------

    def check_slas(self, report: DispatchReport, now: datetime) -> None:
        """Note each open case that breached its SLA, once, and queue an alert for it (by default
        in the alert outbox, which the alert dispatcher routes to the configured channels)."""
        outreach = self.settings.outreach
        soonest = min(outreach.first_response_sla, outreach.resolution_sla)
        with self.store.read() as conn:
            cases = q.cases_to_check_for_sla(conn, opened_before=now - soonest)
        for case in cases:
            figures = case.figures(now, outreach.first_response_sla, outreach.resolution_sla)
            if not figures.breached or case.status is CaseStatus.CLOSED_NOT_COMPLAINT:
                continue
            with self.store.write() as conn:
                if not q.mark_breach_alerted(conn, case, kinds=figures.breach_kinds, at=now):
                    continue
                self.on_sla_breach(conn, case, figures.breach_kinds, now)
            log.warning(
                "case %s (%s, %s) breached its SLA: %s",
                case.id,
                case.brand,
                case.author,
                ", ".join(figures.breach_kinds),
            )
            report.sla_breaches.append(case.id)
