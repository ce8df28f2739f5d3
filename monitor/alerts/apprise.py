"""Apprise channel: a message in, a notification out through any Apprise URL (ntfy, Telegram, Teams, Matrix, ...).

Needs the optional extra: `pip install 'clausewatch[apprise]'`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from monitor.alerts.base import ChannelError, ChannelNotifier, ChannelSettings, Message
from monitor.alerts.render import message_html, message_text, subject


class AppriseSettings(ChannelSettings):
    urls: list[str] = Field(min_length=1)
    format: Literal["text", "html"] = "text"

    # Apprise URLs carry their tokens
    secret_fields = ("urls",)


class AppriseNotifier(ChannelNotifier):
    """Sends each message to every Apprise URL of the channel."""

    kind = "apprise"
    Settings = AppriseSettings

    def deliver(self, message: Message) -> None:
        try:
            # the apprise extra: imported only when such a channel is built
            import apprise
        except ImportError:
            raise ChannelError("the apprise channel needs the apprise package: "
                               "pip install 'clausewatch[apprise]'") from None
        sender = apprise.Apprise()
        for url in self.settings.urls:
            if not sender.add(url):
                raise ChannelError(f"Apprise cannot use URL #{self.settings.urls.index(url) + 1}")
        html = self.settings.format == "html"
        ok = sender.notify(title=subject(message, "ClauseWatch:"),
                           body=message_html(message) if html else message_text(message),
                           body_format=apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT)
        if not ok:
            raise ChannelError("Apprise could not deliver to every URL (run with -v for its log)")

    def describe(self) -> str:
        schemes = ", ".join(url.split("://", 1)[0] + "://****" for url in self.settings.urls)
        return f"Apprise {schemes}"
