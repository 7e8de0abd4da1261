"""Shared fixtures: real databases, settings built in code, a real local HTTP server.

`db_url` runs a test on a fresh SQLite file and, when LISTENER_TEST_DATABASE_URL points at a
PostgreSQL server, again on a fresh schema there (dropped afterwards). With CI=true that server
must be reachable: a silent skip in CI would hide the PostgreSQL half of the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from listener.settings import Settings, validate_settings
from tests.support.http_server import LocalServer
from tests.support.paths import REPO

PG_ENV = "LISTENER_TEST_DATABASE_URL"

# Fixtures shared by many modules are registered once here, not imported into each.
pytest_plugins = [
    "tests.support.fakes.bluesky_api",
    "tests.support.fakes.x_api",
    "tests.support.outreach",
]


def _postgres_base_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    return url or None


@pytest.fixture(scope="session")
def postgres_available() -> str:
    url = _postgres_base_url()
    if url is None:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@localhost:5432/test)"
        )
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
    return url


def _fresh_pg_schema(base_url: str) -> tuple[str, Callable[[], None]]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    url = f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'listener.db'}"


@pytest.fixture
def postgres_url(postgres_available: str) -> Iterator[str]:
    url, drop = _fresh_pg_schema(postgres_available)
    yield url
    drop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, then (when configured) a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'listener.db'}"
        return
    base = request.getfixturevalue("postgres_available")
    url, drop = _fresh_pg_schema(base)
    yield url
    drop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build validated settings in code; `sources`, `brands` etc. override the defaults."""

    def build(**overrides: Any) -> Settings:
        raw: dict[str, Any] = {
            "database": {"url": f"sqlite:///{tmp_path / 'listener.db'}"},
            "brands": [
                {
                    "name": "O2",
                    "terms": ["O2", "@O2", "#O2", "O2 UK"],
                    "exclude": ["O2 sensor", "O2 arena"],
                    "support_url": "https://o2.example/help",
                },
                {"name": "Skyline Air", "terms": ["Skyline Air", "@SkylineAir"]},
            ],
            "sources": [],
            "outreach": {"templates_dir": str(REPO / "templates")},
            # Scoring workers are tested on their own (test_scoring_workers.py); elsewhere a
            # process pool per test would only add start-up time.
            "scoring": {"workers": 0},
            # Likewise the fetch worker (test_fetch_worker.py).
            "service": {"fetch_worker": False},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
        raw["base_dir"] = tmp_path
        return validate_settings(raw)

    return build


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 whose routes a test scripts."""
    with LocalServer() as server:
        yield server
