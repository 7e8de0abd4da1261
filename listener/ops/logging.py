"""Log lines for people (the default) or for a log collector: one JSON object per line.

A JSON line carries `time` (ISO 8601, UTC), `level`, `logger` and `message`, then whatever
context the call passed with `extra=` (`source`, `brand`, `incident_id`, `draft_id`,
`alert_id`, `channel`, `job` ...), then `exception` with the traceback when there is one.
Messages never carry secrets or whole mention texts at INFO; the context keys are ids and
names from settings.

`ReopenableFileHandler` appends to a file and reopens it on SIGHUP, the signal logrotate (or
an operator) sends after moving the file away.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Extra attributes libraries add that only repeat the message (uvicorn's coloured copy).
_IGNORED = {"color_message"}
# The password in `scheme://user:password@host` (a feed URL with credentials, a database URL).
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@")


def redact(text: str) -> str:
    """`text` with the password of any URL in it replaced by `***`."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


class RedactingFilter(logging.Filter):
    """Replaces URL passwords in each record's message before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key in _IGNORED or key.startswith("_"):
                continue
            entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class ReopenableFileHandler(logging.FileHandler):
    """A file handler that closes and reopens its file on `reopen()` (SIGHUP)."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename, mode="a", encoding="utf-8", delay=False)

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.flush()
                self.stream.close()
            self.stream = self._open()
        finally:
            self.release()


def reopen_log_files(root: logging.Logger | None = None) -> int:
    """Reopen every reopenable log file on `root` (default: the root logger); how many."""
    handlers = (root or logging.getLogger()).handlers
    count = 0
    for handler in handlers:
        if isinstance(handler, ReopenableFileHandler):
            handler.reopen()
            count += 1
    return count
