"""Alerts by email over SMTP: plain, STARTTLS or implicit TLS, with optional login.

The body is plain text. The Message-ID is derived from the alert id, so a mail system (or a
person) can recognise the same alert sent twice after a crash.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime

from listener.alerts.channel import OutgoingAlert, idempotency_key
from listener.alerts.message import headline, plain_text
from listener.errors import DispatchError
from listener.outreach.publishers.email import connect_smtp
from listener.settings import AlertChannelSettings


class EmailChannel:
    def __init__(self, settings: AlertChannelSettings, environ: Mapping[str, str]) -> None:
        self.name = settings.name
        self.settings = settings
        self._password = environ.get(settings.password_env, "") if settings.password_env else ""

    def message(self, alert: OutgoingAlert) -> EmailMessage:
        s = self.settings
        domain = s.sender.rpartition("@")[2] or "listener.localhost"
        msg = EmailMessage()
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        msg["Subject"] = headline(alert.body, alert.title, alert.severity)[:200].replace("\n", " ")
        msg["Date"] = format_datetime(alert.created_at)
        msg["Message-ID"] = f"<{idempotency_key(alert.alert_id)}@{domain}>"
        msg["X-Listener-Alert-Id"] = str(alert.alert_id)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(plain_text(alert.body, alert.title, alert.severity))
        return msg

    def send(self, alert: OutgoingAlert) -> None:
        s = self.settings
        if s.username and not self._password:
            raise DispatchError(
                f"alert channel {self.name!r}: username is set but "
                f"{s.password_env or 'password_env'} holds no password; set it and restart"
            )
        msg = self.message(alert)
        timeout = s.timeout.total_seconds()
        try:
            client = connect_smtp(s.smtp_host, s.smtp_port, tls=s.smtp_tls, timeout=timeout)
            with client:
                if s.smtp_tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, self._password)
                client.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            retryable = exc.smtp_code < 500
            raise DispatchError(
                f"alert channel {self.name!r}: SMTP {s.smtp_host}:{s.smtp_port} answered "
                f"{exc.smtp_code} {exc.smtp_error!r}",
                retryable=retryable,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DispatchError(
                f"alert channel {self.name!r}: every recipient was refused ({', '.join(s.to)})",
                retryable=False,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DispatchError(
                f"alert channel {self.name!r}: cannot send through SMTP {s.smtp_host}:"
                f"{s.smtp_port} ({exc.__class__.__name__}: {exc}); will retry"
            ) from exc

    def close(self) -> None:
        return None
