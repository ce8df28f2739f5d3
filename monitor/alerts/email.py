"""Email channel: a message in, one multipart email (plain text + HTML with the word diff) out over SMTP.

The clause changes of one version come as one message (the outbox groups them), so a new version is one
email, however many clauses it changed.

STARTTLS (port 587), implicit TLS (`security: ssl`, port 465) or, for a relay on the same machine,
`security: none`; login when a username is set. The Message-ID is derived from the stable message id,
so a retried email is recognisably the same one.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any, Literal

from pydantic import Field, field_validator

from monitor.alerts.base import ChannelError, ChannelNotifier, ChannelSettings, Message
from monitor.alerts.render import message_html, message_text, subject

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class EmailSettings(ChannelSettings):
    host: str
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[ClauseWatch]"
    timeout: float = Field(30.0, gt=0)
    ca_file: str | None = None  # a private CA for the SMTP server's certificate
    verify: bool = True  # only for a test server with a self-signed certificate

    secret_fields = ("password",)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value!r} is not an email address")
        return value


def build_email(message: Message, sender: str, recipients: list[str], prefix: str = "[ClauseWatch]") -> EmailMessage:
    """The email for a message: subject, plain-text part, HTML part, stable Message-ID."""
    email = EmailMessage()
    email["Subject"] = subject(message, prefix)
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = f"<{message.id}@clausewatch>"
    email["X-ClauseWatch-Id"] = message.id
    email.set_content(message_text(message))
    email.add_alternative(message_html(message), subtype="html")
    return email


class EmailNotifier(ChannelNotifier):
    """Sends each message as an email through an SMTP server."""

    kind = "email"
    Settings = EmailSettings
    one_message_per_version = True  # one email per new version, each clause's before and after in it

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.ca_file)
        if not self.settings.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def deliver(self, message: Message) -> None:
        settings = self.settings
        email = build_email(message, settings.sender, settings.to, settings.subject_prefix)
        port = settings.port or _DEFAULT_PORTS[settings.security]
        try:
            if settings.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout,
                                                      context=self._tls())
            else:
                smtp = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
            with smtp:
                smtp.ehlo()
                if settings.security == "starttls":
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if settings.username:
                    smtp.login(settings.username, settings.password or "")
                refused = smtp.send_message(email, from_addr=getaddresses([settings.sender])[0][1],
                                            to_addrs=[address for _, address in getaddresses(settings.to)])
        except (smtplib.SMTPException, OSError) as error:
            raise ChannelError(f"SMTP {settings.host}:{port}: {type(error).__name__}: {error}") from None
        if refused:  # the others have it: sending again would repeat it to them
            log.warning("SMTP %s:%s refused %s", settings.host, port, ", ".join(refused))

    def describe(self) -> str:
        login = f" as {self.settings.username}" if self.settings.username else ""
        port = self.settings.port or _DEFAULT_PORTS[self.settings.security]
        return (f"SMTP {self.settings.host}:{port} ({self.settings.security}{login}) "
                f"to {', '.join(self.settings.to)}")
