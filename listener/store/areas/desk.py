"""What the review desk's pages read (`store.desk`): keyset pages, capped counts, chart series,
filter menus, and the job that wakes snoozed drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from listener.domain import Draft, StoredMention
from listener.store import desk
from listener.store.areas.base import Area
from listener.store.desk import COUNT_CAP, FeedCursor, QueueCursor, QueueItem, VolumePoint
from listener.store.drafts import get_draft
from listener.store.filters import DraftFilter, MentionFilter
from listener.store.incidents import mention_ids_query
from listener.store.mentions import mentions_by_ids


def _of_incident(incident: int | None) -> Any | None:
    return mention_ids_query(incident) if incident is not None else None


class Desk(Area):
    COUNT_CAP = COUNT_CAP

    def queue_page(
        self,
        f: DraftFilter,
        *,
        after: QueueCursor | None = None,
        limit: int = 50,
        incident: int | None = None,
    ) -> tuple[list[QueueItem], QueueCursor | None, int]:
        """One page of drafts, most urgent first, with their mentions, the next page's cursor
        and how many drafts match (counted up to `COUNT_CAP` + 1); `incident` narrows the queue
        to one incident's mentions."""
        mention_ids = _of_incident(incident)
        with self._store._read() as conn:
            items, cursor = desk.queue_page(
                conn, f, after=after, limit=limit, mention_ids=mention_ids
            )
            total = desk.count_drafts_capped(conn, f, mention_ids=mention_ids)
        return items, cursor, total

    def count_drafts(self, f: DraftFilter) -> int:
        """How many drafts match, counting no further than `COUNT_CAP` + 1."""
        with self._store._read() as conn:
            return desk.count_drafts_capped(conn, f)

    def mention_page(
        self,
        f: MentionFilter,
        *,
        before: FeedCursor | None = None,
        limit: int = 50,
        incident: int | None = None,
    ) -> tuple[list[StoredMention], FeedCursor | None]:
        """One page of mentions, newest first, and the next page's cursor."""
        with self._store._read() as conn:
            return desk.mention_page(
                conn, f, before=before, limit=limit, mention_ids=_of_incident(incident)
            )

    def feed_page(
        self, f: MentionFilter, *, before: FeedCursor | None, limit: int, incident: int | None
    ) -> tuple[list[StoredMention], FeedCursor | None, dict[int, Draft]]:
        """A mentions page with each mention's draft, read in one transaction."""
        with self._store._read() as conn:
            found, cursor = desk.mention_page(
                conn, f, before=before, limit=limit, mention_ids=_of_incident(incident)
            )
            drafts = desk.draft_for_mentions(conn, [m.id for m in found])
        return found, cursor, drafts

    def card(self, draft_id: int) -> tuple[Draft, StoredMention | None]:
        """A draft and its mention (NotFound if there is no such draft)."""
        with self._store._read() as conn:
            draft = get_draft(conn, draft_id)
            mention = mentions_by_ids(conn, [draft.mention_id]).get(draft.mention_id)
        return draft, mention

    def menus(self) -> tuple[list[str], list[str]]:
        """The brand names and the source names, for the filter menus."""
        with self._store._read() as conn:
            return desk.brand_names(conn), desk.source_names(conn)

    def volume(self, *, since: datetime, until: datetime, bucket_seconds: int) -> list[VolumePoint]:
        """Mentions and dissatisfied mentions per brand per time bucket in [since, until)."""
        with self._store._read() as conn:
            return desk.volume_series(conn, since=since, until=until, bucket_seconds=bucket_seconds)

    def wake_snoozed(self, now: datetime) -> list[int]:
        """Put drafts whose snooze has run out back in the pending queue; their ids."""
        with self._store._write() as conn:
            return desk.wake_snoozed(conn, now)
