"""Channels that deliver an approved reply: X replies, email over SMTP, and manual posting.

Each publisher has one method, `publish(draft, mention) -> platform id` (X and email also
`post_statement`, for an incident's holding statement), and says what went
wrong with the errors in `base`: whether trying again later is safe, or whether the message may
already be out and a person must check before anything else happens.
"""

from listener.outreach.publishers.base import (
    AlreadyPosted,
    ChannelUnusable,
    OutcomeUnknown,
    Publisher,
    RetryLater,
    StatementPublisher,
)

__all__ = [
    "AlreadyPosted",
    "ChannelUnusable",
    "OutcomeUnknown",
    "Publisher",
    "RetryLater",
    "StatementPublisher",
]
