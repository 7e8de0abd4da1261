"""Outreach (`store.outreach`): the do-not-contact list, complaint cases, and the send outbox
in the draft table (claims under the rule of `listener.outreach.claims`, and their outcomes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from listener.alerts.message import NewAlert
from listener.domain import Draft, DraftStatus, StoredMention
from listener.errors import NotAllowed
from listener.outreach.cases import Case
from listener.outreach.claims import (
    CHANNEL_RATE_WINDOW,
    Cancel,
    Claim,
    Hold,
    HoldForIncident,
    Reword,
    SendDecision,
    SendFacts,
    Skip,
)
from listener.outreach.identity import identities, primary_key_of
from listener.outreach.review import ReviewAction
from listener.store import cases as case_rows
from listener.store import contacts, holds, sends
from listener.store.alerts import enqueue_alert
from listener.store.areas.base import Area
from listener.store.contacts import Contact
from listener.store.drafts import apply_action, get_draft, select_drafts
from listener.store.filters import DraftFilter
from listener.store.incidents import add_event
from listener.store.mentions import mentions_by_ids

__all__ = ["Outreach", "StuckSend"]


@dataclass(frozen=True, slots=True)
class StuckSend:
    """A draft in `sending`: who claimed it and when."""

    id: int
    channel: str
    claimed_by: str
    claimed_at: datetime | None


class Outreach(Area):
    # -- do-not-contact ----------------------------------------------------------------------

    def contacts(self, brand: str = "") -> list[Contact]:
        with self._store._read() as conn:
            return contacts.list_contacts(conn, brand)

    def blocked(self, brand: str, keys: Iterable[str]) -> Contact | None:
        with self._store._read() as conn:
            return contacts.blocked(conn, brand, keys)

    def add_contact(
        self,
        *,
        brand: str,
        author: str,
        reason: str,
        actor: str,
        at: datetime,
        mention_id: int | None = None,
    ) -> tuple[bool, list[int]]:
        """Put `author` on `brand`'s list and cancel their waiting replies; (added, cancelled)."""
        with self._store._write() as conn:
            return contacts.add_contact(
                conn,
                brand=brand,
                author=author,
                reason=reason,
                actor=actor,
                at=at,
                mention_id=mention_id,
            )

    def add_opt_outs(self, found: Sequence[tuple[StoredMention, str]], at: datetime) -> None:
        """Each (mention, phrase) that opted out puts its author's every identity on the list."""
        with self._store._write() as conn:
            for item, phrase in found:
                for key in identities(item.mention):
                    contacts.add_contact(
                        conn,
                        brand=item.brand,
                        author=key,
                        reason=f'opted out ("{phrase}") in mention {item.id}',
                        actor="listener",
                        at=at,
                        mention_id=item.id,
                    )

    def remove_contact(self, *, brand: str, author: str, actor: str, at: datetime) -> None:
        with self._store._write() as conn:
            contacts.remove_contact(conn, brand=brand, author=author, actor=actor, at=at)

    # -- cases -------------------------------------------------------------------------------

    def open_cases_for(self, stored: Sequence[StoredMention], at: datetime) -> list[int]:
        with self._store._write() as conn:
            return case_rows.open_cases_for(conn, stored, at=at)

    def cases(self, *, brand: str = "", status: str = "", open_only: bool = False) -> list[Case]:
        with self._store._read() as conn:
            return case_rows.list_cases(conn, brand=brand, status=status, open_only=open_only)

    def case(self, case_id: int) -> Case:
        with self._store._read() as conn:
            return case_rows.get_case(conn, case_id)

    def case_with_items(self, case_id: int) -> tuple[Case, dict[int, StoredMention], list[Draft]]:
        """A case, its mentions by id and its drafts."""
        with self._store._read() as conn:
            case = case_rows.get_case(conn, case_id)
            found = mentions_by_ids(conn, case.mention_ids)
            drafts = [get_draft(conn, i) for i in case.draft_ids]
        return case, found, drafts

    def update_case(
        self,
        case_id: int,
        *,
        actor: str,
        at: datetime,
        status: str | None = None,
        owner: str | None = None,
        root_cause: str | None = None,
        note: str | None = None,
        only_changes: bool = False,
    ) -> Case:
        """Change a case; with `only_changes`, an owner or root cause equal to the case's is
        left alone (a form sends every field, not only the ones a person changed)."""
        with self._store._write() as conn:
            if only_changes:
                current = case_rows.get_case(conn, case_id)
                owner = owner if owner != current.owner else None
                root_cause = root_cause if root_cause != current.root_cause else None
            return case_rows.update_case(
                conn,
                case_id,
                actor=actor,
                at=at,
                status=status,
                owner=owner,
                root_cause=root_cause,
                note=note,
            )

    def cases_to_check_for_sla(self, *, opened_before: datetime) -> list[Case]:
        with self._store._read() as conn:
            return case_rows.cases_to_check_for_sla(conn, opened_before=opened_before)

    def note_sla_breach(
        self, case: Case, *, kinds: Sequence[str], at: datetime, alert: NewAlert | None
    ) -> bool:
        """Note the breach once (False when another instance already did) and queue its alert
        in the same transaction."""
        with self._store._write() as conn:
            if not case_rows.mark_breach_alerted(conn, case, kinds=kinds, at=at):
                return False
            if alert is not None:
                enqueue_alert(
                    conn,
                    alert.kind,
                    alert.brand,
                    alert.severity,
                    alert.title,
                    dict(alert.body),
                    alert.dedupe_key,
                    at,
                )
        return True

    # -- the send outbox ---------------------------------------------------------------------

    def outbox(
        self, statuses: Sequence[str], limit: int
    ) -> tuple[list[Draft], dict[int, StoredMention]]:
        """Drafts in each of `statuses` (up to `limit` each), and their mentions by id."""
        with self._store._read() as conn:
            drafts: list[Draft] = []
            for status in statuses:
                drafts.extend(select_drafts(conn, DraftFilter(status=status), limit=limit))
            found = mentions_by_ids(conn, [d.mention_id for d in drafts])
        return drafts, found

    def draft_with_mention(self, draft_id: int) -> tuple[Draft, StoredMention]:
        with self._store._read() as conn:
            draft = get_draft(conn, draft_id)
            return draft, sends.mention_of(conn, draft)

    def due_drafts(self, *, channels: Sequence[str], now: datetime, limit: int) -> list[int]:
        with self._store._read() as conn:
            return sends.due_drafts(conn, channels=channels, now=now, limit=limit)

    def stuck_in_sending(self) -> list[StuckSend]:
        with self._store._read() as conn:  # an idle pass takes no write lock
            return [
                StuckSend(r.id, r.channel, r.claimed_by, r.claimed_at)
                for r in sends.stuck_in_sending(conn)
            ]

    def fail_stuck(
        self,
        suspects: Sequence[int],
        error_for: Callable[[StuckSend], str],
        *,
        actor: str,
        at: datetime,
    ) -> dict[int, str]:
        """Under the dispatch lock, mark those `suspects` still in `sending` failed with
        `needs_check` (a person looks before anything is resent); their errors by id."""
        failed: dict[int, str] = {}
        with self._store._write() as conn:
            sends.lock_dispatch(conn)
            for row in sends.stuck_in_sending(conn):
                if row.id not in suspects:
                    continue
                error = error_for(StuckSend(row.id, row.channel, row.claimed_by, row.claimed_at))
                if sends.mark_failed(
                    conn, row.id, error=error, needs_check=True, actor=actor, at=at
                ):
                    failed[row.id] = error
        return failed

    def _facts(
        self,
        conn: Connection,
        draft: Draft,
        now: datetime,
        cap_period: timedelta,
        echo_window: timedelta,
    ) -> SendFacts:
        stored = sends.mention_of(conn, draft)
        keys = identities(stored.mention, draft)
        contact = contacts.blocked(conn, draft.brand, keys)
        author = primary_key_of(stored.mention, draft)
        return SendFacts(
            draft=draft,
            mention=stored.mention,
            author=author,
            blocked_author=contact.author if contact is not None else None,
            blocked_reason=contact.reason if contact is not None else "",
            sends_to_author=sends.sends_to(conn, draft.brand, author, now - cap_period),
            sends_on_channel=sends.sends_on(conn, draft.channel.value, now - CHANNEL_RATE_WINDOW),
            unsettled=(
                contacts.unsettled_texts_by(conn, draft.brand, keys) if contact is None else []
            ),
            keys=keys,
            incident_holds=holds.author_holds(conn, draft.brand, keys),
            recent_sends=(
                holds.recent_sends(conn, draft, now - echo_window)
                if echo_window > timedelta(0)
                else []
            ),
            recipient_names=[stored.mention.author, stored.mention.author_name],
        )

    def _hold_for_incident(
        self, conn: Connection, draft: Draft, decision: HoldForIncident, actor: str, at: datetime
    ) -> None:
        """An approved reply to an author in a held incident waits under that incident."""
        if holds.hold_draft(
            conn,
            draft,
            incident_id=decision.incident_id,
            reason=decision.reason,
            actor=actor,
            at=at,
        ):
            add_event(
                conn,
                decision.incident_id,
                at,
                actor,
                "reply held",
                {
                    "reason": f"draft #{draft.id} to {draft.recipient or 'its author'} was "
                    f"approved by {draft.approved_by or 'someone'} before the hold; it waits here",
                    "draft_id": draft.id,
                },
            )

    def claim_for_sending(
        self,
        draft_id: int,
        now: datetime,
        decide: Callable[[SendFacts], SendDecision],
        *,
        instance: str,
        cap_period: timedelta,
        echo_window: timedelta = timedelta(0),
    ) -> tuple[SendDecision, SendFacts]:
        """Under the dispatch lock: gather the draft's facts, let `decide` rule, apply the ruling
        (cancel, hold under an incident, back to review, hold, or approved → sending) and
        COMMIT before returning, so the platform is only called for a claim that is saved. A
        `Claim` another dispatcher won is a `Skip`."""
        with self._store._write() as conn:
            sends.lock_dispatch(conn)
            draft = get_draft(conn, draft_id)
            facts = self._facts(conn, draft, now, cap_period, echo_window)
            decision = decide(facts)
            if isinstance(decision, Cancel):
                if decision.opt_out is not None:
                    mention_id, reason = decision.opt_out
                    for key in facts.keys:
                        contacts.add_contact(
                            conn,
                            brand=draft.brand,
                            author=key,
                            reason=reason,
                            actor=instance,
                            at=now,
                            mention_id=mention_id,
                        )
                # Putting someone on the list cancels their waiting drafts, this one included.
                if get_draft(conn, draft.id).status is DraftStatus.APPROVED:
                    apply_action(
                        conn,
                        draft.id,
                        ReviewAction.CANCEL,
                        actor=instance,
                        at=now,
                        reason=decision.reason,
                    )
            elif isinstance(decision, HoldForIncident):
                self._hold_for_incident(conn, draft, decision, instance, now)
            elif isinstance(decision, Reword):
                sends.back_to_review(conn, draft, reason=decision.reason, actor=instance, at=now)
            elif isinstance(decision, Hold):
                sends.hold(conn, draft, reason=decision.reason, until=decision.until, at=now)
            elif isinstance(decision, Claim) and not sends.claim(
                conn, draft, author=facts.author, instance=instance, at=now
            ):
                decision = Skip()
        return decision, facts

    def record_posted_by_hand(
        self,
        draft_id: int,
        *,
        actor: str,
        at: datetime,
        platform_id: str,
        note: str,
        cap_period: timedelta,
        decide: Callable[[SendFacts], SendDecision],
        echo_window: timedelta = timedelta(0),
    ) -> Draft:
        """A person posted a reply by hand, or checked that a doubtful send is up.

        An approved manual reply is claimed and marked sent if `decide` allows it (a `Cancel`
        or `Hold` is refused with its reason); a failed reply flagged `needs_check` is recorded
        as sent as it is; anything else is refused.
        """
        with self._store._write() as conn:
            sends.lock_dispatch(conn)
            draft = get_draft(conn, draft_id)
            facts = self._facts(conn, draft, at, cap_period, echo_window)
            decision = decide(facts)
            if isinstance(decision, Cancel):
                who = facts.blocked_author or facts.author
                raise NotAllowed(
                    f"{who} is on the do-not-contact list of {draft.brand} "
                    f"({decision.reason}); do not post it"
                )
            if isinstance(decision, Hold | HoldForIncident | Reword):
                # Refused, not applied: the person is told why and nothing changes.
                raise NotAllowed(f"not now: {decision.reason}")
            if isinstance(decision, Claim):
                if not sends.claim(conn, draft, author=facts.author, instance=actor, at=at):
                    raise NotAllowed(f"draft {draft_id} changed while you were looking; reload")
                return sends.mark_sent(
                    conn, draft_id, platform_id=platform_id, actor=actor, at=at, note=note
                )
            if draft.status is DraftStatus.FAILED and draft.needs_check:
                return sends.mark_sent(
                    conn,
                    draft_id,
                    platform_id=platform_id or draft.platform_id,
                    actor=actor,
                    at=at,
                    from_statuses=(DraftStatus.FAILED.value,),
                    note=note or "a person checked the platform: it is posted",
                )
            raise NotAllowed(
                f"draft {draft_id} is {draft.status.value} on {draft.channel.value}; only an "
                "approved manual reply, or a failed one flagged for checking, can be marked sent"
            )

    def mark_sent(
        self,
        draft_id: int,
        *,
        platform_id: str,
        actor: str,
        at: datetime,
        from_statuses: Sequence[str],
        claimed_by: str,
    ) -> Draft:
        with self._store._write() as conn:
            return sends.mark_sent(
                conn,
                draft_id,
                platform_id=platform_id,
                actor=actor,
                at=at,
                from_statuses=from_statuses,
                claimed_by=claimed_by,
            )

    def retry_later(
        self,
        draft_id: int,
        *,
        reason: str,
        retry_at: datetime,
        actor: str,
        at: datetime,
        claimed_by: str,
    ) -> bool:
        with self._store._write() as conn:
            return sends.retry_later(
                conn,
                draft_id,
                reason=reason,
                retry_at=retry_at,
                actor=actor,
                at=at,
                claimed_by=claimed_by,
            )

    def mark_failed(
        self,
        draft_id: int,
        *,
        error: str,
        needs_check: bool,
        actor: str,
        at: datetime,
        claimed_by: str,
    ) -> bool:
        with self._store._write() as conn:
            return sends.mark_failed(
                conn,
                draft_id,
                error=error,
                needs_check=needs_check,
                actor=actor,
                at=at,
                claimed_by=claimed_by,
            )

    def attempts_of(self, draft_id: int) -> int:
        with self._store._read() as conn:
            return sends.attempts_of(conn, draft_id)
