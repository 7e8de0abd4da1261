"""The Source protocol: how the pipeline asks any platform for new mentions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from listener.domain import FetchBatch, PollState


class Source(Protocol):
    """A place mentions come from (a feed, X search, a Reddit search ...).

    `fetch` yields batches in the order they must be committed; each batch carries the poll
    state to save once its mentions are stored. It raises `SourceError` (or `RateLimited`) with
    a message an operator can act on; it never sleeps to wait out a rate limit.
    """

    name: str
    kind: str

    def fetch(self, state: PollState) -> Iterator[FetchBatch]: ...

    def close(self) -> None: ...
