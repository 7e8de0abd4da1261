"""The mention and draft filters, and the one place they become SQL.

Every list of mentions or drafts (the desk's pages and API, the CLI, the store's own methods)
filters through `mention_conditions` and `draft_conditions`, so a new filter is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, or_

from listener.store.tables import DraftRow, MentionRow, ScoreRow

MENTION: Table = MentionRow.__table__  # type: ignore[attr-defined]
SCORE: Table = ScoreRow.__table__  # type: ignore[attr-defined]
DRAFT: Table = DraftRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class MentionFilter:
    brand: str = ""
    source: str = ""
    category: str = ""
    dissatisfied: bool | None = None
    search: str = ""
    since: datetime | None = None
    until: datetime | None = None
    incident_id: int | None = None
    lang: str = ""  # a language code ("zh"); "-" for mentions whose language is unknown


@dataclass(frozen=True, slots=True)
class DraftFilter:
    status: str = "pending"
    brand: str = ""
    source: str = ""
    category: str = ""
    search: str = ""
    incident_id: int | None = None


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match; `%` and `_` in the text are matched literally."""
    return func.lower(column).contains(text.lower(), autoescape=True)


def mention_conditions(f: MentionFilter, mention_ids: Any | None = None) -> list[Any]:
    """The WHERE clauses for `f` over the mention table joined to its score; `mention_ids` (a
    subquery or list) narrows them further, e.g. to one incident's mentions."""
    conditions: list[Any] = []
    if f.brand:
        conditions.append(MENTION.c.brand == f.brand)
    if f.source:
        conditions.append(MENTION.c.source == f.source)
    if f.category:
        conditions.append(SCORE.c.category == f.category)
    if f.lang:
        conditions.append(MENTION.c.lang == ("" if f.lang == "-" else f.lang))
    if f.dissatisfied is not None:
        conditions.append(SCORE.c.dissatisfied == f.dissatisfied)
    if f.search:
        conditions.append(
            or_(
                _contains(MENTION.c.text, f.search),
                _contains(MENTION.c.title, f.search),
                _contains(MENTION.c.author, f.search),
            )
        )
    if f.since:
        conditions.append(MENTION.c.published_at >= f.since)
    if f.until:
        conditions.append(MENTION.c.published_at < f.until)
    if mention_ids is not None:
        conditions.append(MENTION.c.id.in_(mention_ids))
    return conditions


def draft_conditions(f: DraftFilter, mention_ids: Any | None = None) -> tuple[list[Any], set[str]]:
    """The WHERE clauses for `f`, and which other tables ("mention", "score") they need
    (join them with `drafts_from`)."""
    conditions: list[Any] = []
    needs: set[str] = set()
    if f.status and f.status != "all":
        conditions.append(DRAFT.c.status == f.status)
    if f.brand:
        conditions.append(DRAFT.c.brand == f.brand)
    if f.source:
        conditions.append(MENTION.c.source == f.source)
        needs.add("mention")
    if f.category:
        conditions.append(SCORE.c.category == f.category)
        needs.add("score")
    if f.search:
        conditions.append(
            or_(
                _contains(MENTION.c.text, f.search),
                _contains(MENTION.c.title, f.search),
                _contains(MENTION.c.author, f.search),
                _contains(DRAFT.c.text, f.search),
            )
        )
        needs.add("mention")
    if mention_ids is not None:
        conditions.append(DRAFT.c.mention_id.in_(mention_ids))
    return conditions, needs


def drafts_from(needs: set[str]) -> Any:
    """The draft table joined to what `draft_conditions` said its clauses read, and no more:
    each join is a lookup per draft walked."""
    joined: Any = DRAFT
    if "mention" in needs:
        joined = joined.join(MENTION, MENTION.c.id == DRAFT.c.mention_id)
    if "score" in needs:
        joined = joined.join(SCORE, SCORE.c.mention_id == DRAFT.c.mention_id)
    return joined
