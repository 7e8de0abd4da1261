"""The shape every alert channel has, and what it is handed to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutgoingAlert:
    """One alert as a channel sends it; `alert_id` is the receiver's deduplication key."""

    alert_id: int
    kind: str
    brand: str
    severity: str
    title: str
    body: dict[str, Any]
    created_at: datetime
    sent_at: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "idempotency_key": idempotency_key(self.alert_id),
            "kind": self.kind,
            "brand": self.brand,
            "severity": self.severity,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat(),
            **{k: v for k, v in self.body.items() if k not in ("kind", "severity", "title")},
        }


def idempotency_key(alert_id: int) -> str:
    return f"listener-alert-{alert_id}"


class Channel(Protocol):
    """Delivers alerts somewhere; raises DispatchError (retryable or not) when it cannot."""

    name: str

    def send(self, alert: OutgoingAlert) -> None: ...

    def close(self) -> None: ...
