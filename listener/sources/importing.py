"""Read mentions from JSONL or CSV files for `listener import` (and replays and backtests).

Streaming, line by line, so a file of any size imports in constant memory. A bad line is
reported by its number and skipped; the rest goes in.

Fields: `source`, `external_id`, `text` (required); `title`, `url`, `author`, `author_name`,
`author_followers`, `author_verified`, `author_email`, `published_at` (ISO 8601), `lang`,
`source_kind`, `replies`, `reposts`, `likes`, `quotes` (optional).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from listener.domain import Engagement, Mention, utc
from listener.errors import ListenerError

REQUIRED = ("source", "external_id", "text")
csv.field_size_limit(10_000_000)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass(frozen=True, slots=True)
class GoodLine:
    line: int
    mention: Mention
    extra: Mapping[str, Any]


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        first = handle.readline().lstrip()
    return "jsonl" if first.startswith("{") else "csv"


def read_mentions(
    handle: IO[str], fmt: str, *, fetched_at: datetime
) -> Iterator[GoodLine | BadLine]:
    """Yield each line as a mention or as the reason it was skipped."""
    if fmt == "jsonl":
        yield from _read_jsonl(handle, fetched_at)
    elif fmt == "csv":
        yield from _read_csv(handle, fetched_at)
    else:
        raise ListenerError(f"unknown import format {fmt!r}; expected 'jsonl' or 'csv'")


def _read_jsonl(handle: IO[str], fetched_at: datetime) -> Iterator[GoodLine | BadLine]:
    for number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield BadLine(number, "expected a JSON object")
            continue
        yield _to_mention(number, record, fetched_at)


def _read_csv(handle: IO[str], fetched_at: datetime) -> Iterator[GoodLine | BadLine]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        return
    missing = [f for f in REQUIRED if f not in reader.fieldnames]
    if missing:
        yield BadLine(1, f"the header lacks required column(s): {', '.join(missing)}")
        return
    try:
        for record in reader:
            if None in record:
                yield BadLine(reader.line_num, "more values than columns in the header")
                continue
            yield _to_mention(reader.line_num, record, fetched_at)
    except csv.Error as exc:
        yield BadLine(reader.line_num, f"unreadable CSV: {exc}")


def _to_mention(number: int, record: Mapping[str, Any], fetched_at: datetime) -> GoodLine | BadLine:
    for name in REQUIRED:
        value = record.get(name)
        if value is None or str(value).strip() == "":
            return BadLine(number, f"missing required field {name!r}")
    try:
        published = _parse_time(record.get("published_at"))
        followers = _parse_int(record.get("author_followers"), "author_followers")
        engagement = Engagement(
            *(_parse_int(record.get(k), k) or 0 for k in ("replies", "reposts", "likes", "quotes"))
        )
    except ValueError as exc:
        return BadLine(number, str(exc))
    mention = Mention(
        source=str(record["source"])[:200],
        external_id=str(record["external_id"])[:1000],
        text=str(record["text"]),
        title=str(record.get("title") or ""),
        url=str(record.get("url") or ""),
        author=str(record.get("author") or ""),
        author_name=str(record.get("author_name") or ""),
        author_followers=followers,
        author_verified=_parse_bool(record.get("author_verified")),
        author_email=str(record.get("author_email") or ""),
        published_at=published,
        fetched_at=fetched_at,
        lang=str(record.get("lang") or ""),
        engagement=engagement,
        source_kind=str(record.get("source_kind") or "import"),
    )
    return GoodLine(number, mention, record)


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"published_at {text[:40]!r} is not an ISO 8601 time such as 2026-03-06T09:41:00Z"
        ) from None
    try:
        return utc(parsed)  # a naive time is taken as UTC; every time is stored in UTC
    except OverflowError:
        raise ValueError(
            f"published_at {text[:40]!r} falls outside the years 1 to 9999 in UTC"
        ) from None


def _parse_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    try:
        number = int(float(value)) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {str(value)[:40]!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def _parse_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def open_text(path: Path) -> IO[str]:
    """Open for streaming; undecodable bytes become U+FFFD instead of stopping the import."""
    if str(path) == "-":
        import sys

        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace", newline="")
