"""The review desk: FastAPI pages (Jinja2, htmx) and a JSON API over the same store."""

from listener.web.app import create_app

__all__ = ["create_app"]
