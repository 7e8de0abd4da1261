"""Send a reply by email over SMTP (plain, STARTTLS or implicit TLS), as `[email]` configures.

The password comes from the environment variable named in `email.password_env`. Each message
carries a Message-ID derived from the draft, which becomes the stored platform id, and a
List-Unsubscribe header so mail programs offer the opt-out too.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from listener.domain import Channel, Draft, Mention, Statement
from listener.errors import DispatchError, SourceDisabled
from listener.outreach.publishers.base import ChannelUnusable, OutcomeUnknown
from listener.settings import BrandSettings, EmailOutreachSettings

__all__ = ["EmailPublisher", "build_email_publisher"]


def build_email_publisher(
    settings: EmailOutreachSettings,
    brands: Mapping[str, BrandSettings],
    environ: Mapping[str, str],
) -> EmailPublisher:
    if not settings.sender:
        raise SourceDisabled(
            "email replies are not configured: set [email] sender (and smtp_host, smtp_port)"
        )
    password = ""
    if settings.username:
        password = environ.get(settings.password_env, "") if settings.password_env else ""
        if not password:
            raise SourceDisabled(
                f"email replies are not configured: [email] username is set but "
                f"{settings.password_env or 'email.password_env'} holds no password"
            )
    return EmailPublisher(settings, brands, password)


def connect_smtp(host: str, port: int, *, tls: str, timeout: float) -> smtplib.SMTP:
    """A client connected to the mail server: over TLS from the first byte when `tls` is "ssl";
    otherwise in plain text, for the caller to upgrade with STARTTLS when `tls` asks for it.

    Shared by reply emails and email alerts, so both reach a server the same way.
    """
    if tls == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=timeout)


class EmailPublisher:
    channel = Channel.EMAIL

    def __init__(
        self,
        settings: EmailOutreachSettings,
        brands: Mapping[str, BrandSettings],
        password: str = "",
    ) -> None:
        self.settings = settings
        self.brands = brands
        self._password = password

    def message(self, draft: Draft, mention: Mention) -> EmailMessage:
        brand = self.brands.get(draft.brand)
        speaks_as = brand.speaks_as if brand else draft.brand
        domain = self.settings.sender.rpartition("@")[2] or "listener.localhost"
        msg = EmailMessage()
        msg["From"] = f"{speaks_as} <{self.settings.sender}>"
        msg["To"] = draft.recipient
        subject = f"Re: {mention.title}" if mention.title else f"{speaks_as} customer care"
        msg["Subject"] = subject[:200]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=f"draft{draft.id}", domain=domain)
        msg["List-Unsubscribe"] = f"<mailto:{self.settings.sender}?subject=STOP>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(draft.text)
        return msg

    def publish(self, draft: Draft, mention: Mention) -> str:
        if "@" not in draft.recipient:
            raise DispatchError(
                f"draft {draft.id} has no email address to send to ({draft.recipient!r})",
                retryable=False,
            )
        return self.deliver(self.message(draft, mention), what="email")

    def deliver(self, msg: EmailMessage, *, what: str = "email") -> str:
        """Send `msg` to its recipients over SMTP; its Message-ID is returned. `what` names
        it in errors ("email", "statement")."""
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        timeout = s.timeout.total_seconds()
        try:
            smtp = connect_smtp(s.smtp_host, s.smtp_port, tls=s.smtp_tls, timeout=timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise DispatchError(f"cannot reach the mail server {where}: {exc}; will retry") from exc
        with smtp:
            try:
                if s.smtp_tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, self._password)
            except smtplib.SMTPAuthenticationError as exc:
                raise ChannelUnusable(
                    f"the mail server {where} refused the login of {s.username!r}: check "
                    f"{s.password_env}; email replies wait until it works"
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise DispatchError(f"mail server {where} failed before sending: {exc}") from exc
            try:
                refused = smtp.send_message(msg)
            except smtplib.SMTPRecipientsRefused as exc:
                raise DispatchError(
                    f"the mail server refused the address {msg['To']!r}: {exc.recipients}",
                    retryable=False,
                ) from exc
            except smtplib.SMTPSenderRefused as exc:
                raise DispatchError(
                    f"the mail server refused the sender {s.sender!r}: {exc.smtp_error!r}",
                    retryable=False,
                ) from exc
            except smtplib.SMTPDataError as exc:
                raise DispatchError(
                    f"the mail server refused the message: {exc.smtp_code} {exc.smtp_error!r}",
                    retryable=exc.smtp_code < 500,
                ) from exc
            except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
                raise OutcomeUnknown(
                    f"the connection to {where} broke while sending ({exc}): the {what} may "
                    "or may not have gone out. Check the mailbox before trying again"
                ) from exc
            if refused:
                raise DispatchError(f"the mail server refused {refused}", retryable=False)
        return str(msg["Message-ID"])

    def post_statement(self, statement: Statement, speaks_as: str, handle: str) -> tuple[str, str]:
        """Email a holding statement to its press list, in one message; (Message-ID, "")."""
        if not statement.recipients:
            raise DispatchError(
                f"statement {statement.id} has no press list to send to: set the brand's "
                "press_list, then cancel and draft it again",
                retryable=False,
            )
        domain = self.settings.sender.rpartition("@")[2] or "listener.localhost"
        msg = EmailMessage()
        msg["From"] = f"{speaks_as} <{self.settings.sender}>"
        msg["To"] = ", ".join(statement.recipients)
        msg["Subject"] = f"Statement from {speaks_as}"[:200]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=f"statement{statement.id}", domain=domain)
        msg.set_content(statement.text)
        return self.deliver(msg, what="statement"), ""

    def close(self) -> None:
        pass
