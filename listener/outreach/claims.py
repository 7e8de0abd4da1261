"""Whether an approved reply may go out now: the rule the dispatcher applies under its lock.

In the claiming transaction the store gathers what the rule needs into a `SendFacts` (the
draft, its mention, the do-not-contact entry that matches, the author's mentions whose opt-out
step has not run yet, recent sends to the author and on the channel), a pure function
decides (`Skip | Cancel | Hold | Claim`), and the store applies the answer in the same
transaction: a claim marks the draft `sending` and commits before the platform is called, so a
reply goes out at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from listener.domain import Channel, Draft, DraftStatus, Mention
from listener.outreach.caps import Hold, author_cap_hold, channel_rate_hold, quiet_hours_hold
from listener.outreach.optouts import mention_opt_out
from listener.outreach.review import names_brand
from listener.settings import BrandSettings, OutreachSettings

__all__ = [
    "Cancel",
    "Claim",
    "Hold",
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
class Claim:
    """Send it: approved → sending, committed before the platform hears of it."""


SendDecision = Skip | Cancel | Hold | Claim


def decide_send(
    facts: SendFacts,
    *,
    now: datetime,
    channel_hold: Hold | None,
    brand: BrandSettings | None,
    outreach: OutreachSettings,
) -> SendDecision:
    """The dispatcher's rule: do-not-contact cancels; an unusable channel, a reply that does not
    name its brand, quiet hours, the author's cap and the channel's rate hold; else claim."""
    draft = facts.draft
    if draft.status is not DraftStatus.APPROVED:
        return Skip()  # another dispatcher or a person got there first
    if draft.next_attempt_at is not None and draft.next_attempt_at > now:
        return Skip()
    if facts.blocked_author is not None:
        return Cancel(f"do not contact: {facts.blocked_reason}")
    if (opted_out := unsettled_opt_out(facts)) is not None:
        return opted_out
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
    """A person posting an approved manual reply by hand: the same do-not-contact, quiet hours
    and frequency cap as any send (no channel rate: a person is the channel)."""
    draft = facts.draft
    if draft.status is not DraftStatus.APPROVED or draft.channel is not Channel.MANUAL:
        return Skip()
    if facts.blocked_author is not None:
        return Cancel(facts.blocked_reason)
    if (opted_out := unsettled_opt_out(facts)) is not None:
        return opted_out
    return _quiet_or_capped(facts, brand, outreach, now) or Claim()


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
