"""The rules of reviewing a draft: which action is allowed from which status, and why not.

Pure: the store applies these rules with a compare-and-set on the status, so two reviewers
acting at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from listener.domain import CHANNEL_LIMITS, Channel, Draft, DraftKind, DraftStatus
from listener.errors import InvalidTransition, NotAllowed
from listener.outreach.crisis import Approvals, ApprovalStep, crisis_approval
from listener.text.matching import BrandMatcher, BrandTerms


class ReviewAction(StrEnum):
    EDIT = "edit"
    APPROVE = "approve"
    REJECT = "reject"
    SNOOZE = "snooze"
    CANCEL = "cancel"
    REOPEN = "reopen"


_FROM: dict[ReviewAction, frozenset[DraftStatus]] = {
    ReviewAction.EDIT: frozenset({DraftStatus.PENDING, DraftStatus.SNOOZED, DraftStatus.APPROVED}),
    ReviewAction.APPROVE: frozenset({DraftStatus.PENDING, DraftStatus.SNOOZED}),
    ReviewAction.REJECT: frozenset(
        {DraftStatus.PENDING, DraftStatus.SNOOZED, DraftStatus.APPROVED}
    ),
    ReviewAction.SNOOZE: frozenset({DraftStatus.PENDING, DraftStatus.SNOOZED}),
    ReviewAction.CANCEL: frozenset(
        {
            DraftStatus.PENDING,
            DraftStatus.SNOOZED,
            DraftStatus.APPROVED,
            DraftStatus.HELD,
            DraftStatus.FAILED,
        }
    ),
    ReviewAction.REOPEN: frozenset({DraftStatus.REJECTED, DraftStatus.FAILED}),
}

_TO: dict[ReviewAction, DraftStatus] = {
    # An edit after approval needs a fresh approval: what was approved is no longer what is sent.
    ReviewAction.EDIT: DraftStatus.PENDING,
    ReviewAction.APPROVE: DraftStatus.APPROVED,
    ReviewAction.REJECT: DraftStatus.REJECTED,
    ReviewAction.SNOOZE: DraftStatus.SNOOZED,
    ReviewAction.CANCEL: DraftStatus.CANCELLED,
    ReviewAction.REOPEN: DraftStatus.PENDING,
}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed_from: frozenset[DraftStatus]
    to: DraftStatus
    # A crisis reply's approval: FIRST records the approver and leaves it pending.
    step: ApprovalStep | None = None


def decide(
    draft: Draft,
    action: ReviewAction,
    *,
    actor: str,
    four_eyes: bool = False,
    text: str | None = None,
    reason: str | None = None,
    brand_names: Sequence[str] = (),
    role: str | None = None,
    crisis_four_eyes: bool = True,
) -> Decision:
    """Check that `actor` may do `action` to `draft` now; raise with the reason if not.

    `brand_names` are the ways the draft's brand may be named (`reply_names`): an edited text
    must use one of them. A crisis reply is approved under `listener.outreach.crisis`: by
    the crisis role (`role` is the actor's desk role, None when unknown) and, with
    `crisis_four_eyes`, by two different people.
    """
    allowed = _FROM[action]
    if draft.status not in allowed:
        raise InvalidTransition(
            f"draft {draft.id} is {draft.status.value}; cannot {action.value} it "
            f"(only when {', '.join(sorted(s.value for s in allowed))})"
        )
    if action is ReviewAction.EDIT:
        check_text(text or "", Channel(draft.channel), brand_names)
    if action is ReviewAction.APPROVE and not draft.text.strip():
        waiting = f" ({draft.hold_reason})" if draft.hold_reason else ""
        raise NotAllowed(f"draft {draft.id} has no text yet: write the reply first{waiting}")
    if action is ReviewAction.REJECT and not (reason or "").strip():
        raise NotAllowed("a rejection needs a reason, so the team learns from it")
    if action is ReviewAction.APPROVE and draft.kind is DraftKind.CRISIS:
        step = crisis_approval(
            Approvals(f"crisis reply {draft.id}", draft.edited_by, draft.first_approved_by),
            actor=actor,
            role=role,
            four_eyes=crisis_four_eyes,
        )
        return Decision(allowed, _TO[action] if step is ApprovalStep.FINAL else draft.status, step)
    if action is ReviewAction.APPROVE and four_eyes and draft.edited_by == actor:
        raise NotAllowed(
            f"draft {draft.id} was last edited by {actor}; four-eyes review is on, so another "
            "person must approve it"
        )
    return Decision(allowed, _TO[action])


def check_text(text: str, channel: Channel, brand_names: Sequence[str] = ()) -> None:
    """A reply must say something, fit its channel and, given `brand_names`, say who writes."""
    if not text.strip():
        raise NotAllowed("the reply text is empty")
    limit = CHANNEL_LIMITS[channel]
    if len(text) > limit:
        raise NotAllowed(
            f"the reply is {len(text)} characters; {channel.value} allows at most {limit}"
        )
    if brand_names and not names_brand(text, brand_names):
        raise NotAllowed(
            f"the reply must name the brand ({brand_names[0]}) so the reader knows who is writing"
        )


def names_brand(text: str, brand_names: Sequence[str]) -> bool:
    """Does `text` name the brand by one of `brand_names`, as mentions are matched (any case,
    on word boundaries, handles and hashtags too)?"""
    return bool(_matcher(tuple(brand_names)).match(text))


@lru_cache(maxsize=256)
def _matcher(brand_names: tuple[str, ...]) -> BrandMatcher:
    return BrandMatcher([BrandTerms("brand", brand_names)])
