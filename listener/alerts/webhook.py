"""A generic signed JSON webhook.

Body: the alert as JSON (UTF-8). Headers a receiver uses:
- `X-Listener-Signature: sha256=<hex>`: HMAC-SHA256 with the shared secret over
  `<X-Listener-Timestamp>.<raw body>`; compare in constant time and reject old timestamps.
- `X-Listener-Timestamp`: seconds since the epoch when it was signed (simulated time in replays).
- `Idempotency-Key` and `X-Listener-Alert-Id`: the same alert may arrive twice after a crash;
  process each key once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from listener.alerts.channel import OutgoingAlert, idempotency_key
from listener.alerts.http import HttpPoster
from listener.errors import DispatchError
from listener.settings import AlertChannelSettings

SIGNATURE_HEADER = "X-Listener-Signature"
TIMESTAMP_HEADER = "X-Listener-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and what the tests do): recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    def __init__(self, settings: AlertChannelSettings, environ: Mapping[str, str]) -> None:
        self.name = settings.name
        self.settings = settings
        self._secret_env = settings.secret_env
        self._secret = environ.get(settings.secret_env, "") if settings.secret_env else ""
        self._poster = HttpPoster(settings.name, settings.url, settings.timeout)

    def send(self, alert: OutgoingAlert) -> None:
        if self._secret_env and not self._secret:
            # Never send unsigned when a signature is expected; the alert waits until fixed.
            raise DispatchError(
                f"alert channel {self.name!r}: environment variable {self._secret_env} holds no "
                "secret to sign with; set it and restart (the alert is kept)"
            )
        body = json.dumps(alert.payload(), ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(alert.sent_at.timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": idempotency_key(alert.alert_id),
            "X-Listener-Alert-Id": str(alert.alert_id),
            TIMESTAMP_HEADER: timestamp,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        self._poster.post(body, headers)

    def close(self) -> None:
        self._poster.close()
