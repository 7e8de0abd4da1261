"""Slack incoming webhook: `{"text": ...}` with Slack's three escapes (&, <, >).

Escaping keeps authors' text from becoming links or `<!channel>` pings. Slack does not
deduplicate; the alert id is in the text so a person can tell a repeat after a crash.
"""

from __future__ import annotations

import json

from listener.alerts.channel import OutgoingAlert
from listener.alerts.http import HttpPoster
from listener.alerts.message import plain_text
from listener.settings import AlertChannelSettings


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel:
    def __init__(self, settings: AlertChannelSettings) -> None:
        self.name = settings.name
        self._poster = HttpPoster(settings.name, settings.url, settings.timeout)

    def text(self, alert: OutgoingAlert) -> str:
        body = plain_text(alert.body, alert.title, alert.severity)
        url = str(alert.body.get("url", ""))
        text = escape(body)
        if url:
            # The link we build ourselves may be a Slack link; everything else stays text.
            text = text.replace(escape(f"Open: {url}"), f"<{escape(url)}|Open the incident>")
        return f"{text}\n(alert {alert.alert_id}, {alert.created_at:%Y-%m-%d %H:%M} UTC)"

    def send(self, alert: OutgoingAlert) -> None:
        payload = {"text": self.text(alert), "unfurl_links": False, "unfurl_media": False}
        self._poster.post(
            json.dumps(payload, ensure_ascii=False).encode(),
            {"Content-Type": "application/json; charset=utf-8"},
        )

    def close(self) -> None:
        self._poster.close()
