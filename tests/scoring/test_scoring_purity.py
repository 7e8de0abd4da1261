"""Scoring is part of the pure core: it must not pull in any SDK or database library."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("tweepy", "httpx", "sqlmodel", "sqlalchemy", "requests", "fastapi")


def test_scoring_imports_no_sdk() -> None:
    probe = (
        "import sys; import listener.scoring as s; "
        "s.make_scorer().score_batch([]); "
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"listener.scoring imported {out}"
