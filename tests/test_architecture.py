"""The layout rules a newcomer relies on, checked so they stay true.

- The pure core (text, scoring, incident detection, outreach rules, source judgement) imports
  no I/O library: it decides from records and `now`, so it can be tested and reused alone.
  A new module in a core package is pure unless it is named here as an edge module.
- The package root keeps only the public face; everything else lives in its family's folder.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import listener

PACKAGE = Path(listener.__file__).parent

# Libraries that do I/O (network, database, scheduling) or belong to the edges.
IO_LIBRARIES = (
    "tweepy",
    "httpx",
    "requests",
    "feedparser",
    "sqlalchemy",
    "sqlmodel",
    "psycopg",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "apscheduler",
    "smtplib",
    "http.client",
    "urllib.request",
)

# Packages whose modules are pure unless listed in EDGE_MODULES.
CORE_PACKAGES = ("text", "scoring", "incidents", "outreach")
CORE_ROOT_MODULES = ("domain", "clock", "errors", "settings")
CORE_EXTRA_MODULES = ("sources.base", "sources.health", "sources.leases")
EDGE_MODULES = {
    # scoring: offline training reads the shared data sets; workers run processes
    "scoring.train",
    "scoring.training_data",
    "scoring.workers",
    # incidents: the after-store step, replays and backtests drive the store and channels
    "incidents.tracking",
    "incidents.replay",
    # outreach: sending and the after-store step talk to the store and the platforms
    "outreach.dispatch",
    "outreach.steps",
    "outreach.publishers",
}


def _core_modules() -> list[str]:
    names = [f"listener.{name}" for name in CORE_ROOT_MODULES + CORE_EXTRA_MODULES]
    for package in CORE_PACKAGES:
        path = PACKAGE / package
        names.append(f"listener.{package}")
        for info in pkgutil.iter_modules([str(path)]):
            relative = f"{package}.{info.name}"
            if relative not in EDGE_MODULES:
                names.append(f"listener.{relative}")
    return sorted(names)


@pytest.mark.parametrize("module", _core_modules())
def test_a_core_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import sys, {module}\nprint(' '.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    leaked = result.stdout.strip()
    assert leaked == "", f"{module} is part of the pure core but imports {leaked}"


def test_the_package_root_keeps_only_its_public_face() -> None:
    root_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root_modules) <= 10, f"the package root has {len(root_modules)}: {root_modules}"


def test_every_folder_under_the_package_is_a_regular_package() -> None:
    folders = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))
    ]
    missing = [str(p.relative_to(PACKAGE)) for p in folders if not (p / "__init__.py").exists()]
    # Migrations are loaded by Alembic from their folder, not imported as a package.
    missing = [m for m in missing if not m.startswith("store/migrations")]
    assert missing == [], f"folders without __init__.py (namespace packages by accident): {missing}"
