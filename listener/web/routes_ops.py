"""`/healthz`, `/readyz` and `/metrics`: for load balancers, supervisors and Prometheus.

None of them needs a session, and none says anything secret. `/metrics` asks for a bearer
token when `[ops] metrics_token` is set, and when `[ops] port` gives the ops endpoints a port
of their own it is served only there (`create_ops_app`), not beside the desk.
"""

from __future__ import annotations

import hmac
import socket

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from listener.app import Listener
from listener.ops.metrics import listener_version

router = APIRouter()


def _listener(request: Request) -> Listener:
    state = request.app.state
    found = getattr(state, "ops_listener", None)
    listener: Listener = found if found is not None else state.desk.listener
    return listener


def _not_found() -> Response:
    return JSONResponse({"error": "there is no such page"}, status_code=404)


def _instance(listener: Listener) -> str:
    return listener.settings.service.instance or socket.gethostname()


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> Response:
    """Alive: this process serves requests. Nothing else is checked."""
    listener = _listener(request)
    if not listener.settings.ops.enabled:
        return _not_found()
    return JSONResponse(
        {"status": "alive", "instance": _instance(listener), "version": listener_version()}
    )


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> Response:
    """Ready for work: 200 with every check, or 503 naming the one that fails."""
    listener = _listener(request)
    if not listener.settings.ops.enabled:
        return _not_found()
    readiness = listener.ops.checks.readiness()
    return JSONResponse(
        {**readiness.as_dict(), "instance": _instance(listener)},
        status_code=200 if readiness.ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text format (or OpenMetrics when the scraper asks for it)."""
    listener = _listener(request)
    ops = listener.settings.ops
    own_port = bool(getattr(request.app.state, "ops_listener", None))
    if not ops.enabled or (ops.port and not own_port):
        return _not_found()
    if ops.metrics_token and not _token_ok(request, ops.metrics_token):
        return JSONResponse(
            {"error": "send the metrics token as 'Authorization: Bearer <token>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry = listener.ops.metrics.registry
    if "application/openmetrics-text" in request.headers.get("accept", ""):
        body = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
        return Response(body, media_type=OPENMETRICS_TYPE)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _token_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def create_ops_app(listener: Listener) -> FastAPI:
    """The three endpoints alone: for `[ops] port`, or when the desk is off."""
    app = FastAPI(title="listener ops", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ops_listener = listener
    app.include_router(router)
    return app
