"""Whether an approved reply may go out now: the rule the dispatcher applies under its lock.

In the claiming transaction the store gathers what the rule needs into a `SendFacts` (the
draft, its mention, the do-not-contact entry that matches, the author's mentions whose opt-out
step has not run yet, recent sends to the author and on the channel, the active incidents
holding the author's replies, the brand's recent replies to other people), a pure function
decides (`Skip | Cancel | HoldForIncident | Reword | Hold | Claim`), and the store applies the
answer in the same transaction: a claim marks the draft `sending` and commits before the
platform is called, so a reply goes out at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from listener.domain import Channel, Draft, DraftKind, DraftStatus, Mention
from listener.outreach.caps import Hold, author_cap_hold, channel_rate_hold, quiet_hours_hold
from listener.outreach.echo import SentReply, find_echo
from listener.outreach.optouts import mention_opt_out
from listener.outreach.review import names_brand
from listener.settings import BrandSettings, OutreachSettings

__all__ = [
    "Cancel",
    "Claim",
    "Hold",
    "HoldForIncident",
    "IncidentHold",
    "Reword",
    "SendDecision",
    "SendFacts",
    "Skip",
    "decide_manual_send",
    "decide_send",
]

# How far back the facts look: the longest window a rule below reads.
CHANNEL_RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SendFacts:
    """What the send rule knows about one draft, read under the dispatch lock."""

    draft: Draft
    mention: Mention
    author: str  # the author key the caps count sends by
    blocked_author: str | None  # the do-not-contact entry that matches, if any
    blocked_reason: str
    sends_to_author: list[datetime]  # this brand's sends to the author within the cap period
    sends_on_channel: list[datetime]  # sends on the draft's channel in the last minute
    # (mention id, title, text) of the author's mentions about this brand whose after-store
    # steps have not run (a process killed right after committing them): an opt-out among
    # them is not on the list yet, and must stop the send all the same.
    unsettled: list[tuple[int, str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # every way the author is known to the list
    # Active incidents of this brand that hold outreach and have a mention by this author.
    incident_holds: list[IncidentHold] = field(default_factory=list)
    # The brand's replies sent (or being sent) to other people within `outreach.echo_window`.
    recent_sends: list[SentReply] = field(default_factory=list)
    recipient_names: list[str] = field(default_factory=list)  # this reply's reader's names


@dataclass(frozen=True, slots=True)
class IncidentHold:
    """An incident holding the author's replies, with what a held draft says about it."""

    incident_id: int
    reason: str  # e.g. "held: incident #12 (Data breach at Voxa, high)"


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to do now: someone else acted on the draft, or its retry time is not here."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """The author is on the do-not-contact list, or has just opted out: cancel the reply.

    `opt_out` is (mention id, reason) of an opt-out found in a mention whose step has not run:
    the store puts the author on the list with it, in the same transaction.
    """

    reason: str
    opt_out: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class HoldForIncident:
    """The author is part of an incident whose outreach is on hold: the approved reply becomes
    `held` under that incident until a person with the crisis role releases or cancels it."""

    incident_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Reword:
    """Nearly the same as a reply just sent to someone else: back to the review queue
    (pending, approval cleared) with the reason, for a person to reword it."""

    reason: str
    echoes: int  # the draft id of the earlier reply


@dataclass(frozen=True, slots=True)
class Claim:
    """Send it: approved → sending, committed before the platform hears of it."""


SendDecision = Skip | Cancel | HoldForIncident | Reword | Hold | Claim


def decide_send(
    facts: SendFacts,
    *,
    now: datetime,
    channel_hold: Hold | None,
    brand: BrandSettings | None,
    outreach: OutreachSettings,
) -> SendDecision:
    """The dispatcher's rule: do-not-contact cancels; an incident holding the author's replies
    holds it under the incident; an unusable channel or a reply that does not name its brand
    holds it; a reply echoing one just sent to someone else goes back to be reworded; quiet
    hours, the author's cap and the channel's rate hold; else claim."""
    draft = facts.draft
    if draft.status is not DraftStatus.APPROVED:
        return Skip()  # another dispatcher or a person got there first
    if draft.next_attempt_at is not None and draft.next_attempt_at > now:
        return Skip()
    if facts.blocked_author is not None:
        return Cancel(f"do not contact: {facts.blocked_reason}")
    if (opted_out := unsettled_opt_out(facts)) is not None:
        return opted_out
    if (held := incident_hold(facts)) is not None:
        return held
    if channel_hold is not None:
        return channel_hold
    if brand is not None and not names_brand(draft.text, brand.reply_names):
        # Edits are checked for this; a reply approved before that check, or written to
        # the database some other way, still never goes out without saying who writes.
        return Hold(
            f"the reply does not name the brand ({brand.speaks_as}); edit it so the reader "
            "knows who is writing",
            None,
        )
    if (echo := echo_of(facts, outreach, now)) is not None:
        return echo
    return (
        _quiet_or_capped(facts, brand, outreach, now)
        or channel_rate_hold(
            draft.channel.value,
            facts.sends_on_channel,
            per_minute=outreach.send_rate_per_minute,
            now=now,
        )
        or Claim()
    )


def decide_manual_send(
    facts: SendFacts, *, now: datetime, brand: BrandSettings | None, outreach: OutreachSettings
) -> SendDecision:
    """A person posting an approved manual reply by hand: the same do-not-contact, incident
    hold, echo check, quiet hours and frequency cap as any send (no channel rate: a person is
    the channel)."""
    draft = facts.draft
    if draft.status is not DraftStatus.APPROVED or draft.channel is not Channel.MANUAL:
        return Skip()
    if facts.blocked_author is not None:
        return Cancel(facts.blocked_reason)
    if (opted_out := unsettled_opt_out(facts)) is not None:
        return opted_out
    if (held := incident_hold(facts)) is not None:
        return held
    if (echo := echo_of(facts, outreach, now)) is not None:
        return echo
    return _quiet_or_capped(facts, brand, outreach, now) or Claim()


def incident_hold(facts: SendFacts) -> HoldForIncident | None:
    """The first (oldest) incident holding the author's replies, or None. A crisis reply is
    never held by an incident: it is the approved way of speaking during one."""
    if not facts.incident_holds or facts.draft.kind is DraftKind.CRISIS:
        return None
    first = min(facts.incident_holds, key=lambda h: h.incident_id)
    return HoldForIncident(first.incident_id, first.reason)


def echo_of(facts: SendFacts, outreach: OutreachSettings, now: datetime) -> Reword | None:
    """A `Reword` when the reply is nearly the same as one the brand sent to someone else
    within `outreach.echo_window` (see `listener.outreach.echo`), or None."""
    if not facts.recent_sends or outreach.echo_window <= timedelta(0):
        return None
    found = find_echo(
        facts.draft.text,
        [facts.draft.recipient, *facts.recipient_names],
        [s for s in facts.recent_sends if now - s.sent_at <= outreach.echo_window],
        threshold=outreach.echo_similarity,
    )
    if found is None:
        return None
    sent, _ = found
    return Reword(
        f"nearly the same as the reply sent to {sent.recipient or 'someone'} "
        f"{_ago(now - sent.sent_at)} (draft #{sent.draft_id}): reword it",
        sent.draft_id,
    )


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    return f"{minutes} minute{'s' if minutes != 1 else ''} ago"


def unsettled_opt_out(facts: SendFacts) -> Cancel | None:
    """A cancel for the first opt-out among the author's mentions whose opt-out step has not
    run yet, or None."""
    for mention_id, title, text in facts.unsettled:
        phrase = mention_opt_out(title, text)
        if phrase is not None:
            reason = f'opted out ("{phrase}") in mention {mention_id}'
            return Cancel(f"do not contact: {reason}", opt_out=(mention_id, reason))
    return None


def _quiet_or_capped(
    facts: SendFacts, brand: BrandSettings | None, outreach: OutreachSettings, now: datetime
) -> Hold | None:
    """The brand's quiet hours, then the author's frequency cap: every send keeps both."""
    quiet = brand.quiet_hours if brand else None
    return quiet_hours_hold(facts.draft.brand, quiet, now) or author_cap_hold(
        facts.author,
        facts.sends_to_author,
        max_per_author=outreach.max_per_author,
        period=outreach.cap_period,
        now=now,
    )
