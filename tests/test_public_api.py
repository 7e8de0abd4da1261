"""The public surface is small and the domain core stays free of SDKs."""

import subprocess
import sys

import listener

CORE_MODULES = [
    "listener.domain",
    "listener.text.matching",
    "listener.outreach.review",
    "listener.errors",
    "listener.clock",
]
SDKS = ["tweepy", "httpx", "sqlmodel", "sqlalchemy", "feedparser", "fastapi", "requests"]


def test_the_public_api_is_pinned() -> None:
    assert sorted(listener.__all__) == [
        "Category",
        "DispatchError",
        "Draft",
        "DraftStatus",
        "InvalidTransition",
        "Listener",
        "ListenerError",
        "Mention",
        "NotAllowed",
        "NotFound",
        "RateLimited",
        "Score",
        "Settings",
        "SettingsError",
        "Signal",
        "SourceDisabled",
        "SourceError",
        "StoreError",
        "StoredMention",
        "load_settings",
        "make_listener",
    ]
    for name in listener.__all__:
        assert getattr(listener, name) is not None


def test_every_error_is_a_listener_error_and_its_builtin() -> None:
    assert issubclass(listener.SettingsError, ValueError)
    assert issubclass(listener.NotFound, LookupError)
    assert issubclass(listener.NotAllowed, PermissionError)
    assert issubclass(listener.RateLimited, listener.SourceError)
    for name in (
        "SettingsError",
        "SourceError",
        "StoreError",
        "NotFound",
        "NotAllowed",
        "DispatchError",
    ):
        assert issubclass(getattr(listener, name), listener.ListenerError)


def test_the_domain_core_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE_MODULES)
        + f"loaded = [m for m in {SDKS!r} if m in sys.modules]\n"
        + "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
