"""Crisis mode's rules: who may approve what is said during an incident, and what may be done
to a holding statement from which status.

Pure: the store gathers the record, these functions decide, and the store applies the answer
with a compare-and-set on the status, so two people acting at once cannot both win.

Statements and crisis replies need a person with the crisis role (or admin). With
`outreach.crisis_four_eyes` on, two different such people must approve: the first approval
is recorded (`first_approved_by`), the second makes it approved; whoever last edited the text
may give neither. An edit clears both approvals: what was approved is no longer what is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from listener.domain import Statement, StatementStatus
from listener.errors import InvalidTransition, NotAllowed

__all__ = [
    "CRISIS_ROLES",
    "ApprovalStep",
    "Approvals",
    "StatementAction",
    "StatementDecision",
    "approval_note",
    "crisis_approval",
    "decide_statement",
]

# The desk roles that may approve what is said during an incident.
CRISIS_ROLES = frozenset({"crisis", "admin"})


class ApprovalStep(StrEnum):
    FIRST = "first"  # recorded; a second crisis approver is still needed
    FINAL = "final"  # approved: it may go out


@dataclass(frozen=True, slots=True)
class Approvals:
    """What the approval rule reads of a statement or a crisis reply."""

    what: str  # how messages name it: "statement 3", "crisis reply 7"
    edited_by: str
    first_approved_by: str


def crisis_approval(
    approvals: Approvals, *, actor: str, role: str | None, four_eyes: bool
) -> ApprovalStep:
    """The step `actor` (with desk role `role`, None when not a desk user) may take, or
    `NotAllowed` with the reason."""
    if role not in CRISIS_ROLES:
        who = f"{actor} is {role}" if role else f"{actor} is not a desk user"
        raise NotAllowed(
            f"{approvals.what} needs a crisis approver (the crisis or admin role); {who}"
        )
    if not four_eyes:
        return ApprovalStep.FINAL
    if approvals.edited_by and approvals.edited_by == actor:
        raise NotAllowed(
            f"{approvals.what} was last edited by {actor}; with crisis four eyes on, two other "
            "people with the crisis role must approve it"
        )
    if not approvals.first_approved_by:
        return ApprovalStep.FIRST
    if approvals.first_approved_by == actor:
        raise NotAllowed(
            f"{actor} has already approved {approvals.what}; a second, different person with "
            "the crisis role must approve it"
        )
    return ApprovalStep.FINAL


def approval_note(first_approved_by: str, approved_by: str, *, four_eyes: bool) -> str:
    """What the desk says about approvals: "approved by ann; needs a second crisis approver"."""
    if approved_by:
        if first_approved_by and first_approved_by != approved_by:
            return f"approved by {first_approved_by} and {approved_by}"
        return f"approved by {approved_by}"
    if first_approved_by:
        return f"approved by {first_approved_by}; needs a second crisis approver"
    return "needs two crisis approvers" if four_eyes else "needs a crisis approver"


class StatementAction(StrEnum):
    EDIT = "edit"  # new text by a person
    REDRAFT = "redraft"  # the template's text again
    APPROVE = "approve"
    CANCEL = "cancel"
    POSTED = "posted"  # a person posted it by hand, or checked a doubtful send is up


_S = StatementStatus
_FROM: dict[StatementAction, frozenset[StatementStatus]] = {
    StatementAction.EDIT: frozenset({_S.DRAFT, _S.APPROVED, _S.FAILED}),
    StatementAction.REDRAFT: frozenset({_S.DRAFT, _S.APPROVED, _S.FAILED}),
    StatementAction.APPROVE: frozenset({_S.DRAFT}),
    StatementAction.CANCEL: frozenset({_S.DRAFT, _S.APPROVED, _S.FAILED}),
    StatementAction.POSTED: frozenset({_S.APPROVED, _S.FAILED}),
}


@dataclass(frozen=True, slots=True)
class StatementDecision:
    """Where the statement goes, and which approval step this was (for APPROVE)."""

    allowed_from: frozenset[StatementStatus]
    to: StatementStatus
    step: ApprovalStep | None = None


def decide_statement(
    statement: Statement,
    action: StatementAction,
    *,
    actor: str,
    role: str | None,
    four_eyes: bool,
    text: str | None = None,
) -> StatementDecision:
    """Check that `actor` may do `action` to `statement` now; raise with the reason if not.

    Only approval looks at `role` here: the desk lets only the crisis role reach the other
    actions, and the shell is trusted as it is for replies. Text checks (length, naming the
    brand) are the caller's (`review.check_text`): they need the brand's names."""
    what = f"statement {statement.id}"
    allowed = _FROM[action]
    if statement.status not in allowed:
        raise InvalidTransition(
            f"{what} is {statement.status.value}; cannot {action.value} it "
            f"(only when {', '.join(sorted(s.value for s in allowed))})"
        )
    if action in (StatementAction.EDIT, StatementAction.REDRAFT):
        if statement.status is _S.FAILED and statement.needs_check:
            raise NotAllowed(
                f"{what} may already be public: check the platform, then record it as posted "
                "or cancel it, before changing it"
            )
        if action is StatementAction.EDIT and not (text or "").strip():
            raise NotAllowed("the statement text is empty")
        return StatementDecision(allowed, _S.DRAFT)
    if action is StatementAction.APPROVE:
        if not statement.text.strip():
            raise NotAllowed(f"{what} has no text yet: write it first")
        step = crisis_approval(
            Approvals(what, statement.edited_by, statement.first_approved_by),
            actor=actor,
            role=role,
            four_eyes=four_eyes,
        )
        to = _S.APPROVED if step is ApprovalStep.FINAL else _S.DRAFT
        return StatementDecision(allowed, to, step)
    if action is StatementAction.POSTED:
        manual_ready = statement.status is _S.APPROVED and statement.channel.value == "manual"
        doubtful = statement.status is _S.FAILED and statement.needs_check
        if not (manual_ready or doubtful):
            raise InvalidTransition(
                f"{what} is {statement.status.value} on {statement.channel.value}; only an "
                "approved manual statement, or a failed one flagged for checking, can be "
                "recorded as posted"
            )
        return StatementDecision(allowed, _S.POSTED)
    return StatementDecision(allowed, _S.CANCELLED)
