"""Email replies over STARTTLS and implicit TLS, verified against the server's certificate.

The certificate is self-signed for 127.0.0.1 and made trusted for this test through
SSL_CERT_FILE, which Python's default TLS context reads: production code runs unchanged.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from listener.domain import DraftStatus
from listener.settings import Settings
from tests.support.outreach import (
    SMTP_PASSWORD,
    SMTP_USER,
    Inbox,
    World,
    email_mention,
    smtp_authenticator,
)

WorldFactory = Callable[..., World]


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["starttls", "ssl"])
def tls_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, int, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox = Inbox()
    port = _free_port()
    options = (
        {"tls_context": context, "require_starttls": True}
        if request.param == "starttls"
        # aiosmtpd only counts STARTTLS as encrypted when deciding to offer AUTH; the whole
        # connection is TLS here, so let it offer AUTH.
        else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=smtp_authenticator,
        server_hostname="127.0.0.1",
        **options,
    )
    controller.start()
    try:
        yield request.param, port, inbox
    finally:
        controller.stop()


def test_email_goes_out_over_tls_with_a_login(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    tls_server: tuple[str, int, Inbox],
) -> None:
    mode, port, inbox = tls_server
    settings = make_settings(
        email={
            "sender": "care@o2.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": mode,
            "username": SMTP_USER,
            "password_env": "O2_SMTP_PASSWORD",
            "timeout": "10s",
        }
    )
    world = world_factory(settings, environ={"O2_SMTP_PASSWORD": SMTP_PASSWORD})
    (draft,) = world.ingest(email_mention(9, "wyn@example.org"))
    world.approve(draft)
    report = world.dispatcher().run_once()
    assert report.sent, report.as_dict()
    assert world.draft(draft.id).status is DraftStatus.SENT
    (message,) = inbox.messages
    assert message["To"] == "wyn@example.org"
