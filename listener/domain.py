"""Plain records that travel through listener: no I/O, no SDKs, no SQL.

A `Mention` is what a source heard; a `StoredMention` is one the store kept (it has an id and
the brand it is about); a `Score` says how unhappy and how risky it is, with the `Signal`s that
made it so; a `Draft` is a reply waiting for a person. Times are always timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple


def utc(dt: datetime) -> datetime:
    """Return `dt` as aware UTC; a naive datetime is taken to be UTC already."""
    if dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Category(StrEnum):
    """What a mention is, from the brand's point of view."""

    COMPLAINT = "complaint"
    SPAM_COMPLAINT = "spam_complaint"
    PRIVACY = "privacy"
    OUTAGE = "outage"
    QUESTION = "question"
    PRAISE = "praise"
    NEWS = "news"
    OTHER = "other"

    @property
    def is_complaint(self) -> bool:
        return self in _COMPLAINT_CATEGORIES


_COMPLAINT_CATEGORIES = frozenset(
    {Category.COMPLAINT, Category.SPAM_COMPLAINT, Category.PRIVACY, Category.OUTAGE}
)


class ComplaintReason(StrEnum):
    """Why a complaint was made, where the text makes it clear."""

    SERVICE = "service"
    DELAY = "delay"
    OUTAGE = "outage"
    BILLING = "billing"
    PRODUCT = "product"
    SPAM = "spam"
    PRIVACY = "privacy"


@dataclass(frozen=True, slots=True)
class Engagement:
    """Public reactions to a post, where the platform reports them."""

    replies: int = 0
    reposts: int = 0
    likes: int = 0
    quotes: int = 0

    @property
    def total(self) -> int:
        return self.replies + self.reposts + self.likes + self.quotes

    def __reduce__(self) -> tuple[type[Engagement], tuple[Any, ...]]:
        return (Engagement, _engagement_values(self))


@dataclass(frozen=True, slots=True)
class Mention:
    """One post, article or comment as a source delivered it, before brand matching.

    `external_id` is the source's own stable id (tweet id, feed entry id or link); together
    with `source` it identifies the mention, however often it is seen again.
    """

    source: str
    external_id: str
    text: str
    title: str = ""
    url: str = ""
    author: str = ""
    author_name: str = ""
    author_followers: int | None = None
    author_verified: bool | None = None
    author_email: str = ""
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    lang: str = ""
    engagement: Engagement = field(default_factory=Engagement)
    source_kind: str = "feed"
    in_reply_to: str = ""
    # The account a reply answers (X's in_reply_to_user_id): a reply to a brand's own account
    # is about that brand even when it does not name it ("STOP"). Not stored.
    in_reply_to_user: str = ""

    @property
    def full_text(self) -> str:
        """Title and body together, as matching and scoring read them."""
        if self.title and self.title not in self.text:
            return f"{self.title}\n{self.text}" if self.text else self.title
        return self.text

    def __reduce__(self) -> tuple[type[Mention], tuple[Any, ...]]:
        """Pickled as its field values, in order: every mention of an import goes to a
        scoring worker, and a slotted dataclass otherwise pickles a dict of its fields and
        is rebuilt from it field by field in Python (three times the time to pickle, half
        again to load)."""
        return (Mention, _mention_values(self))


_engagement_values = attrgetter(*(f.name for f in fields(Engagement)))
_mention_values = attrgetter(*(f.name for f in fields(Mention)))


class Signal(NamedTuple):
    """One reason behind a score: a name people can read and its signed contribution.

    A named tuple rather than a dataclass: every stored mention carries about eight, built
    again wherever scores cross a process boundary, and a tuple is made in C. Scorers round
    the weight to at most 4 places; it is stored and shown as given.
    """

    name: str
    weight: float

    def __str__(self) -> str:
        return f"{self.name} {self.weight:+.2f}"


@dataclass(frozen=True, slots=True)
class Score:
    """How unhappy the author is and how likely the mention is part of a breaking incident.

    `dissatisfaction` and `incident_risk` are probabilities in [0, 1]; `signals` explain them.
    """

    dissatisfaction: float
    dissatisfied: bool
    incident_risk: float
    category: Category
    reason: ComplaintReason | None = None
    signals: Sequence[Signal] = ()
    scorer: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "dissatisfaction": round(self.dissatisfaction, 4),
            "dissatisfied": self.dissatisfied,
            "incident_risk": round(self.incident_risk, 4),
            "category": self.category.value,
            "reason": self.reason.value if self.reason else None,
            "signals": [{"name": s.name, "weight": round(s.weight, 4)} for s in self.signals],
        }


@dataclass(frozen=True, slots=True)
class StoredMention:
    """A mention the store kept, matched to one brand, with its score."""

    id: int
    brand: str
    mention: Mention
    score: Score
    matched_term: str = ""


class DraftStatus(StrEnum):
    """Where a reply is on its way from template to the public.

    pending → approved → sending → sent | failed; pending → rejected | snoozed | cancelled.
    pending | snoozed | approved → held (under an incident whose outreach is on hold) →
    pending (a person released it) | cancelled.
    A draft stuck in `sending` after a crash is never resent automatically (at most once).
    """

    PENDING = "pending"
    SNOOZED = "snoozed"
    APPROVED = "approved"
    HELD = "held"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Channel(StrEnum):
    """How an outreach message reaches its recipient."""

    X = "x"
    EMAIL = "email"
    MANUAL = "manual"


CHANNEL_LIMITS: dict[Channel, int] = {Channel.X: 280, Channel.EMAIL: 5000, Channel.MANUAL: 2000}


class DraftKind(StrEnum):
    """A reply to a customer (`routine`), or one of the few replies a person picks during an
    incident that point to its holding statement (`crisis`: approved by the crisis role)."""

    ROUTINE = "routine"
    CRISIS = "crisis"


@dataclass(frozen=True, slots=True)
class Draft:
    """A templated reply to a mention, waiting for a person to approve it."""

    id: int
    mention_id: int
    brand: str
    channel: Channel
    template: str
    text: str
    status: DraftStatus
    created_at: datetime
    updated_at: datetime
    recipient: str = ""
    reject_reason: str = ""
    edited_by: str = ""
    approved_by: str = ""
    snoozed_until: datetime | None = None
    sent_at: datetime | None = None
    platform_id: str = ""
    error: str = ""
    priority: float = 0.0
    # Why an approved reply waits (cap, quiet hours, rate limit) and when it is tried again;
    # `needs_check`: a send may or may not have reached the platform, a person must look.
    hold_reason: str = ""
    next_attempt_at: datetime | None = None
    needs_check: bool = False
    # The incident whose outreach hold keeps this draft back (status `held`).
    held_incident_id: int | None = None
    kind: DraftKind = DraftKind.ROUTINE
    # Crisis replies under four eyes: the first crisis approver, until a second one approves.
    first_approved_by: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status.value,
            "kind": self.kind.value,
            "mention_id": self.mention_id,
            "brand": self.brand,
            "channel": self.channel.value,
            "template": self.template,
            "text": self.text,
            "recipient": self.recipient,
            "priority": round(self.priority, 4),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "reject_reason": self.reject_reason or None,
            "edited_by": self.edited_by or None,
            "first_approved_by": self.first_approved_by or None,
            "approved_by": self.approved_by or None,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "platform_id": self.platform_id or None,
            "error": self.error or None,
            "hold_reason": self.hold_reason or None,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "needs_check": self.needs_check,
            "held_incident_id": self.held_incident_id,
        }


class StatementStatus(StrEnum):
    """Where a holding statement is: draft → approved → sending → posted | failed; any but
    posted or sending → cancelled. A statement stuck in `sending` is never resent on its own."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    POSTED = "posted"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Statement:
    """An incident's holding statement on one channel: one post from the brand, not a reply.

    `recipients`: the press list it goes to (email). `url`: where it can be read once posted.
    """

    id: int
    incident_id: int
    brand: str
    channel: Channel
    template: str
    text: str
    status: StatementStatus
    created_at: datetime
    updated_at: datetime
    created_by: str = ""
    edited_by: str = ""
    first_approved_by: str = ""
    approved_by: str = ""
    recipients: tuple[str, ...] = ()
    posted_at: datetime | None = None
    platform_id: str = ""
    url: str = ""
    error: str = ""
    needs_check: bool = False
    hold_reason: str = ""
    next_attempt_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "brand": self.brand,
            "channel": self.channel.value,
            "status": self.status.value,
            "template": self.template,
            "text": self.text,
            "recipients": list(self.recipients),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "created_by": self.created_by or None,
            "edited_by": self.edited_by or None,
            "first_approved_by": self.first_approved_by or None,
            "approved_by": self.approved_by or None,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None,
            "platform_id": self.platform_id or None,
            "url": self.url or None,
            "error": self.error or None,
            "needs_check": self.needs_check,
            "hold_reason": self.hold_reason or None,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


@dataclass(frozen=True, slots=True)
class PollState:
    """What a source remembers between polls: a cursor and HTTP validators."""

    cursor: str = ""
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True, slots=True)
class FetchBatch:
    """Mentions fetched in one step and the poll state to save once they are committed.

    Saving `state` only after the batch's mentions are stored is what makes a crash harmless:
    a restart fetches the batch again and the store drops what it already has.
    """

    mentions: Sequence[Mention]
    state: PollState
    not_modified: bool = False
    notes: Sequence[str] = ()


# Intent records: what the pipeline asks the store to write. They live here, not in the store,
# so the pure planning steps (drafting, scoring workers) never import the database layer.


@dataclass(frozen=True, slots=True)
class PlannedDraft:
    """A reply the pipeline wants to queue for a mention, rendered and within its limit."""

    channel: str
    template: str
    text: str
    recipient: str
    priority: float
    # Why a person must act before it can go out: set (with an empty text) when the mention's
    # language has no template, so the reply is written by hand rather than sent in another.
    hold_reason: str = ""


@dataclass(frozen=True, slots=True)
class IngestItem:
    """A matched, scored mention on its way into the store, with its draft if any."""

    mention: Mention
    brand: str
    matched_term: str
    score: Score
    draft: PlannedDraft | None = None


@dataclass(frozen=True, slots=True)
class OptOutSeen:
    """A received message that opts its author out of `brand`'s replies (`phrase` says how).

    Recorded in the transaction that stores the batch, whether the message is new, a repeat
    of one already stored, or a copy of another mention: an opt-out is never left to a later
    step that a crash could skip.
    """

    mention: Mention
    brand: str
    phrase: str


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """One batch for `Store.ingest_group`: its items and the source progress it carries.

    `state` is the source's cursor after this batch; `succeeded_at` marks the poll done.
    """

    items: Sequence[IngestItem]
    source: str | None = None
    state: PollState | None = None
    actor: str = "listener"
    succeeded_at: datetime | None = None
    opt_outs: Sequence[OptOutSeen] = ()
