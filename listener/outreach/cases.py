"""The rules of a complaint case: its lifecycle, root-cause tags, and service-level figures.

Pure. A case is one dissatisfied author's complaint to one brand:

    new ──► investigating ──► responded ──► resolved
     │            │               │
     └────────────┴───────────────┴──► closed_not_complaint
    resolved / closed_not_complaint ──► investigating   (reopened)

The first reply sent moves a new or investigating case to `responded` on its own; time to first
response runs from `opened_at` to that reply, time to resolution from `opened_at` to `resolved`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from listener.errors import InvalidTransition, NotAllowed

__all__ = [
    "ROOT_CAUSES",
    "Case",
    "CaseStatus",
    "Sla",
    "check_root_cause",
    "check_transition",
    "sla",
]


class CaseStatus(StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CLOSED_NOT_COMPLAINT = "closed_not_complaint"

    @property
    def is_open(self) -> bool:
        return self not in (CaseStatus.RESOLVED, CaseStatus.CLOSED_NOT_COMPLAINT)


_NEXT: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {
            CaseStatus.INVESTIGATING,
            CaseStatus.RESPONDED,
            CaseStatus.RESOLVED,
            CaseStatus.CLOSED_NOT_COMPLAINT,
        }
    ),
    CaseStatus.INVESTIGATING: frozenset(
        {CaseStatus.RESPONDED, CaseStatus.RESOLVED, CaseStatus.CLOSED_NOT_COMPLAINT}
    ),
    CaseStatus.RESPONDED: frozenset(
        {CaseStatus.INVESTIGATING, CaseStatus.RESOLVED, CaseStatus.CLOSED_NOT_COMPLAINT}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.INVESTIGATING}),
    CaseStatus.CLOSED_NOT_COMPLAINT: frozenset({CaseStatus.INVESTIGATING}),
}

# Why it happened, so the team can fix causes rather than answer symptoms one by one.
ROOT_CAUSES = (
    "bought_in_contact_list",
    "consent_missing",
    "technical_fault",
    "staff_error",
    "third_party",
    "product_issue",
    "policy",
    "other",
)


def check_transition(current: CaseStatus, wanted: CaseStatus) -> None:
    """Raise `InvalidTransition` naming the allowed next statuses when `wanted` is not one."""
    if wanted == current:
        return
    allowed = _NEXT[current]
    if wanted not in allowed:
        raise InvalidTransition(
            f"a {current.value} case cannot become {wanted.value} "
            f"(allowed: {', '.join(sorted(s.value for s in allowed))})"
        )


def check_root_cause(value: str) -> str:
    """The tag in canonical form ("Staff error" → "staff_error"); `NotAllowed` names the tags."""
    tag = value.strip().lower().replace("-", "_").replace(" ", "_")
    if tag in ("bought_in_list", "bought_in"):
        tag = "bought_in_contact_list"
    if tag not in ROOT_CAUSES:
        raise NotAllowed(
            f"root cause {value!r} is unknown; expected one of {', '.join(ROOT_CAUSES)}"
        )
    return tag


@dataclass(frozen=True, slots=True)
class Sla:
    """Service-level figures of one case at `now` (seconds; None while still running)."""

    time_to_first_response_s: float | None
    time_to_resolution_s: float | None
    first_response_breached: bool
    resolution_breached: bool

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached

    @property
    def breach_kinds(self) -> list[str]:
        kinds = []
        if self.first_response_breached:
            kinds.append("first_response")
        if self.resolution_breached:
            kinds.append("resolution")
        return kinds


def sla(
    *,
    status: CaseStatus,
    opened_at: datetime,
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
    first_response_target: timedelta,
    resolution_target: timedelta,
) -> Sla:
    """Figures and breaches; a case closed as not a complaint owes no resolution."""
    first = (first_response_at - opened_at).total_seconds() if first_response_at else None
    resolution = (resolved_at - opened_at).total_seconds() if resolved_at else None
    not_complaint = status is CaseStatus.CLOSED_NOT_COMPLAINT
    waited_first = first if first is not None else (now - opened_at).total_seconds()
    waited_resolution = resolution if resolution is not None else (now - opened_at).total_seconds()
    first_breached = (
        not (not_complaint and first is None)
        and waited_first > first_response_target.total_seconds()
    )
    resolution_breached = (
        not not_complaint and waited_resolution > resolution_target.total_seconds()
    )
    return Sla(first, resolution, first_breached, resolution_breached)


@dataclass(frozen=True, slots=True)
class Case:
    """A complaint case as the store keeps it, with the mentions and drafts linked to it."""

    id: int
    brand: str
    author: str
    status: CaseStatus
    owner: str
    root_cause: str
    notes: tuple[dict[str, str], ...]
    opened_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    sla_breach_alerted_at: datetime | None
    mention_ids: tuple[int, ...] = ()
    draft_ids: tuple[int, ...] = ()
    author_email: str = ""

    def figures(
        self, now: datetime, first_response_target: timedelta, resolution_target: timedelta
    ) -> Sla:
        return sla(
            status=self.status,
            opened_at=self.opened_at,
            first_response_at=self.first_response_at,
            resolved_at=self.resolved_at,
            now=now,
            first_response_target=first_response_target,
            resolution_target=resolution_target,
        )

    def as_dict(
        self, now: datetime, first_response_target: timedelta, resolution_target: timedelta
    ) -> dict[str, object]:
        figures = self.figures(now, first_response_target, resolution_target)
        return {
            "id": self.id,
            "brand": self.brand,
            "author": self.author,
            "status": self.status.value,
            "owner": self.owner or None,
            "root_cause": self.root_cause or None,
            "notes": list(self.notes),
            "opened_at": self.opened_at.isoformat(),
            "first_response_at": _iso(self.first_response_at),
            "resolved_at": _iso(self.resolved_at),
            "time_to_first_response_s": figures.time_to_first_response_s,
            "time_to_resolution_s": figures.time_to_resolution_s,
            "sla_breached": figures.breached,
            "sla_breaches": figures.breach_kinds,
            "sla_breach_alerted_at": _iso(self.sla_breach_alerted_at),
            "mention_ids": list(self.mention_ids),
            "draft_ids": list(self.draft_ids),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
