"""Serving the review desk with uvicorn, in the foreground or beside the scheduler.

`WebServer` binds its socket up front (so a busy port fails at start, with a clear message,
and port 0 picks a free one for tests) and runs uvicorn in a thread until `stop()`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping

import uvicorn
from starlette.types import ASGIApp

from listener.app import Listener
from listener.errors import SettingsError
from listener.web.app import create_app

log = logging.getLogger("listener.web")


def bind(host: str, port: int, setting: str = "web") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(
            f"{setting}.host/{setting}.port {host}:{port} cannot be used ({exc.strerror}); "
            f"choose another port (LISTENER_{setting.upper()}__PORT) or stop what is using it"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class WebServer:
    """The review desk on host:port, served from a background thread."""

    def __init__(
        self,
        listener: Listener,
        *,
        host: str | None = None,
        port: int | None = None,
        environ: Mapping[str, str] | None = None,
        app: ASGIApp | None = None,
        setting: str = "web",
    ) -> None:
        web = listener.settings.web
        # `app` serves something else than the desk on this socket (the ops endpoints alone).
        self.app = app if app is not None else create_app(listener, environ=environ)
        self.socket = bind(host or web.host, web.port if port is None else port, setting)
        # log_config=None: uvicorn's loggers go through ours (JSON lines when asked for).
        # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1,
        # i.e. from anyone on this host; `web.trusted_proxies` decides instead (create_app).
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            workers=1,
            log_config=None,
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"

    def _serve(self) -> None:
        self.server.run(sockets=[self.socket])

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError("the review desk did not start; see the log above")
        log.debug("review desk on %s", self.url)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.socket.close()

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
