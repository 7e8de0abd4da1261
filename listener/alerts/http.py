"""POSTing alert bodies over HTTP with httpx; its errors become DispatchError.

408, 425, 429 and 5xx answers and network errors are worth retrying; other 4xx mean the
request itself is wrong (bad URL, revoked webhook) and are not.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from listener.errors import DispatchError

_RETRYABLE = {408, 425, 429}


class HttpPoster:
    def __init__(self, channel: str, url: str, timeout: timedelta) -> None:
        self.channel = channel
        self.url = url
        self._client = httpx.Client(
            timeout=timeout.total_seconds(),
            follow_redirects=False,
            headers={"User-Agent": "listener-alerts/1"},
        )

    def post(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DispatchError(
                f"alert channel {self.channel!r}: {self.url} unreachable "
                f"({exc.__class__.__name__}: {exc}); will retry"
            ) from exc
        if response.is_success:
            return
        retryable = response.status_code in _RETRYABLE or response.status_code >= 500
        raise DispatchError(
            f"alert channel {self.channel!r}: {self.url} answered {response.status_code} "
            f"{response.reason_phrase}: {response.text[:200]!r}"
            + ("; will retry" if retryable else "; check the channel's url and secret"),
            retryable=retryable,
        )

    def close(self) -> None:
        self._client.close()
