"""Alert stage: change events and notices in; notifications out through the configured channels.

A channel is a small `Notifier` subclass registered by its `kind` (what users write in clausewatch.yaml):
`console`, `jsonl`, `webhook`, `slack`, `email`, `atom`, `apprise`. Without a clausewatch.yaml the CLI
prints alerts and appends them to alerts.jsonl; with one, `routes` pick the channels and the outbox
(`monitor.alerts.outbox`) makes sure each notification is sent once, after the commit, retried until it is.
"""

from monitor.alerts.base import (
    DEFAULT_ALERTS_FILE,
    ChannelError,
    ChannelSettings,
    ConsoleNotifier,
    JsonLinesNotifier,
    Message,
    Notifier,
    registered_notifiers,
    send_alerts,
)
from monitor.alerts.config import AlertsConfig, load_alerts_config

__all__ = [
    "DEFAULT_ALERTS_FILE",
    "AlertsConfig",
    "ChannelError",
    "ChannelSettings",
    "ConsoleNotifier",
    "JsonLinesNotifier",
    "Message",
    "Notifier",
    "load_alerts_config",
    "registered_notifiers",
    "send_alerts",
]
