"""The one seam between tweepy and the network: where X API requests go, and how long they wait.

tweepy's v2 `Client` builds every URL as ``"https://api.twitter.com" + route`` and sends it with
no timeout at all. Mounting `ApiUrlAdapter` on the client's `requests.Session` fixes both without
patching tweepy: requests for ``https://api.twitter.com`` are sent to the configured `api_url`
(same path and query) and get a default timeout. Production and tests go through the same code;
with the default `api_url` nothing is rewritten. The X search source uses it, and so does the
reply publisher (user-context OAuth 1.0a), which is why it lives in its own module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

__all__ = ["TWEEPY_API_HOST", "ApiUrlAdapter", "attach_api_url"]

# The host tweepy hard-codes into every v2 request.
TWEEPY_API_HOST = "https://api.twitter.com"


class ApiUrlAdapter(HTTPAdapter):
    """Sends requests made for `TWEEPY_API_HOST` to `api_url` instead, with a default timeout.

    A timeout given by the caller wins; tweepy never gives one, so in practice every request
    waits at most `timeout` seconds to connect and `timeout` seconds between bytes.
    """

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        if self.api_url != TWEEPY_API_HOST and url.startswith(TWEEPY_API_HOST):
            request.url = self.api_url + url[len(TWEEPY_API_HOST) :]
            # The session chose proxies for api.twitter.com; choose again for the real host so
            # NO_PROXY (e.g. for a staging server on the LAN) is honoured.
            kwargs["proxies"] = get_environ_proxies(request.url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def attach_api_url(
    session: requests.Session, api_url: str, timeout: float | timedelta
) -> ApiUrlAdapter:
    """Route `session`'s X API requests to `api_url` with a default `timeout`; returns the adapter.

    Call it on ``client.session`` right after building a `tweepy.Client`.
    """
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"api_url must start with http:// or https://, got {api_url!r}")
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    adapter = ApiUrlAdapter(api_url, seconds)
    session.mount(TWEEPY_API_HOST, adapter)
    return adapter
