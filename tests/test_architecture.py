"""The layout rules a newcomer relies on, checked so they stay true.

- The pure core (text, scoring, incident detection, outreach rules, source judgement) imports
  no I/O library: it decides from records and `now`, so it can be tested and reused alone.
  A new module in a core package is pure unless it is named here as an edge module.
- The package root keeps only the public face; everything else lives in its family's folder.
"""

from __future__ import annotations

import ast
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
    "outreach.crisis_desk",
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


# The store is the only door into the database --------------------------------------------------

DATABASE_LIBRARIES = ("sqlalchemy", "sqlmodel", "alembic")
STORE = "listener.store"


def _modules_outside_the_store() -> list[Path]:
    store = PACKAGE / "store"
    return sorted(p for p in PACKAGE.rglob("*.py") if store not in p.parents)


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in the module, with `from X import name` also as X.name
    (so `from listener.store import outreach` shows up as the submodule it is)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == STORE:
                found.extend((node.lineno, f"{STORE}.{alias.name}") for alias in node.names)
    return found


def _store_leaks(source: str, where: str) -> list[str]:
    import listener.store as store_package

    public = set(store_package.__all__)
    tree = ast.parse(source, filename=where)
    leaks = []
    for line, module in _imported(tree):
        top = module.split(".")[0]
        if top in DATABASE_LIBRARIES:
            leaks.append(f"{where}:{line} imports {module}")
        elif module.startswith(STORE + "."):
            name = module.removeprefix(STORE + ".")
            if name not in public:
                leaks.append(f"{where}:{line} imports {module} (not a public name of the store)")
    for node in ast.walk(tree):
        # `store.read()` / `store.write()` (or `._read()` / `._write()`): a transaction opened
        # outside the store; callers use the store's methods and area objects instead.
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("read", "write", "_read", "_write")
            and _names_a_store(node.func.value)
        ):
            leaks.append(f"{where}:{node.lineno} opens a store transaction (.{node.func.attr}())")
    return leaks


def _names_a_store(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr.endswith("store")
    return isinstance(node, ast.Name) and node.id.endswith("store")


def test_no_module_outside_the_store_reaches_the_database() -> None:
    leaks = [
        leak
        for path in _modules_outside_the_store()
        for leak in _store_leaks(
            path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent))
        )
    ]
    assert leaks == [], "the database is reached around the Store:\n" + "\n".join(leaks)


def test_the_store_check_sees_each_kind_of_leak() -> None:
    source = (
        "from sqlalchemy import select\n"
        "import sqlmodel\n"
        "from listener.store import outreach\n"
        "from listener.store.mentions import MENTION\n"
        "from listener.store import Store, MentionFilter\n"
        "def f(listener, store):\n"
        "    with listener.store.write() as conn:\n"
        "        pass\n"
        "    with store._read() as conn:\n"
        "        pass\n"
        "    with open('x').read() as text:\n"
        "        pass\n"
    )
    leaks = _store_leaks(source, "leaky.py")
    lines = sorted(int(leak.split(" ", 1)[0].rsplit(":", 1)[1]) for leak in leaks)
    assert lines == [1, 2, 3, 4, 7, 9], leaks


def test_the_store_names_its_public_records_in_all() -> None:
    import listener.store as store_package

    missing = [name for name in store_package.__all__ if not hasattr(store_package, name)]
    assert missing == []
    assert "Store" in store_package.__all__
