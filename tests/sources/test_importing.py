"""Import lines: every line is a mention or a bad line with its number and reason, never a crash."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from listener.sources.importing import BadLine, GoodLine, read_mentions

FETCHED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def lines_of(*records: dict[str, object]) -> list[GoodLine | BadLine]:
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    return list(read_mentions(io.StringIO(text), "jsonl", fetched_at=FETCHED))


def line(published_at: str) -> dict[str, object]:
    return {"source": "s", "external_id": "1", "text": "O2 again", "published_at": published_at}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-03-06T09:41:00Z", datetime(2026, 3, 6, 9, 41, tzinfo=UTC)),
        ("2026-03-06T09:41:00+05:30", datetime(2026, 3, 6, 4, 11, tzinfo=UTC)),
        ("2026-03-06T09:41:00", datetime(2026, 3, 6, 9, 41, tzinfo=UTC)),  # naive: UTC
        ("0001-01-01T05:00:00+05:00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_time_is_read_as_utc(given: str, stored: datetime) -> None:
    [read] = lines_of(line(given))
    assert isinstance(read, GoodLine)
    assert read.mention.published_at == stored and read.mention.published_at.tzinfo is UTC


@pytest.mark.parametrize("given", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_outside_the_calendar_in_utc_is_a_bad_line_not_a_crash(given: str) -> None:
    # Valid ISO 8601, but a year 0 or 10000 once in UTC: storing it used to fail the whole import.
    read = lines_of(line("2026-03-06T09:41:00Z"), line(given))
    assert isinstance(read[0], GoodLine)
    assert isinstance(read[1], BadLine) and read[1].line == 2
    assert "outside the years 1 to 9999 in UTC" in str(read[1])
