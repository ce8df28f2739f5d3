"""Alert channels: a message (change events or operators' notices) in, a delivery out.

A notifier is a small class registered by its `kind` (what users write in clausewatch.yaml), with a
pydantic `Settings` model for its fields.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.text import Text

from monitor.diffs import diff_as_rich_text
from monitor.settings import setting_default

# the jsonl channel's file, as the command line's
DEFAULT_ALERTS_FILE = setting_default("alerts_file")
# uuid5 namespace of ClauseWatch ids: message ids, Atom entry ids
NAMESPACE = uuid.UUID("0b6c5e3a-3f7e-5d7c-9a64-6c6175736577")


class ChannelError(Exception):
    """A delivery failed; the message says why (secrets are masked before it is stored or shown)."""


class ChannelSettings(BaseModel):
    """The fields of one channel in clausewatch.yaml; each notifier narrows it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: str
    # Names of the fields that hold secrets: they must come from ${ENV} and are never printed.
    secret_fields: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class Message:
    """What one delivery carries: one item (immediate) or several (a digest).

    `id` is stable for the same items and channel: receivers use it to drop a repeat after a retry.
    Items are change-event payloads (see `event_payload`, with `history_url` and `snapshot_sha256`
    added) or notices (which have a `type`).
    """

    id: str
    items: tuple[dict, ...]
    digest: bool = False
    channel: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[dict]:
        return [item for item in self.items if "type" not in item]

    @property
    def notices(self) -> list[dict]:
        return [item for item in self.items if "type" in item]

    @classmethod
    def single(cls, item: dict, channel: str = "") -> Message:
        return cls(id=message_id(channel, item_identity(item)), items=(item,), channel=channel)


def item_identity(item: dict) -> str:
    """What makes an event or notice the same one across runs, retries and channels."""
    if item.get("type") == "answer_change":  # one per use, document and version
        return f"answer/{item['use']}/{item['source']}/{item['version']}"
    if "type" in item:
        return f"notice/{item['type']}/{item['source']}/{item.get('at', '')}"
    return f"event/{item['source']}/{item['version']}/{item['id']}"


def message_id(channel: str, identity: str) -> str:
    """A stable id for one thing sent to one channel: `cw-` and a UUID derived from both."""
    return f"cw-{uuid.uuid5(NAMESPACE, f'{channel}|{identity}')}"


class Notifier:
    """Base of every alert channel; subclasses set `kind` and implement `deliver` (or `send`)."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Notifier]]] = {}
    # True: the clause changes one version made go out as one message (a person reads them together);
    # False: one message per change (a program handles each).
    one_message_per_version: ClassVar[bool] = False
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    name: str = ""  # the channel's name in clausewatch.yaml

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Notifier.registry[cls.kind] = cls

    @classmethod
    def from_settings(cls, name: str, settings: ChannelSettings, options: Any = None) -> Notifier:
        """The notifier for one configured channel; `options` are the config-wide settings (base_url)."""
        notifier = cls(**settings.model_dump(exclude={"kind"}))  # type: ignore[call-arg]
        notifier.name = name
        return notifier

    def send(self, event: dict) -> None:
        """Send one event or notice now (no outbox)."""
        if type(self).deliver is Notifier.deliver:
            raise NotImplementedError
        self.deliver(Message.single(event, self.name))

    def deliver(self, message: Message) -> None:
        """Send one message; raise on failure (the outbox records the error and retries later)."""
        for item in message.items:
            self.send(item)

    def describe(self) -> str:
        """Where this channel sends, with every secret masked, for `clausewatch alerts channels`."""
        return ""


# The channels this package defines beyond console and jsonl, imported when a kind is first looked up: a
# process that only queues notifications (an analysis worker) never loads their clients (httpx, smtplib).
BUILTIN_CHANNEL_MODULES = ("apprise", "atom", "email", "slack", "webhook")


def registered_notifiers() -> dict[str, type[Notifier]]:
    """Every registered channel class by its kind, the built-in ones included."""
    for name in BUILTIN_CHANNEL_MODULES:
        importlib.import_module(f"monitor.alerts.{name}")
    return Notifier.registry


class ChannelNotifier(Notifier):
    """A channel configured by its validated settings (webhook, slack, email, atom, apprise).

    `transport` lets tests and callers hand HTTP channels an httpx transport; the others ignore it.
    """

    def __init__(self, settings: ChannelSettings, transport: Any = None) -> None:
        self.settings = settings
        self.transport = transport

    @classmethod
    def from_settings(cls, name: str, settings: ChannelSettings, options: Any = None) -> Notifier:
        notifier = cls(settings)
        notifier.name = name
        return notifier


class ConsoleNotifier(Notifier):
    """Prints each alert to the terminal: provider, document, clause, direction, reason, word diff."""

    kind = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)

    @classmethod
    def from_settings(cls, name: str, settings: ChannelSettings, options: Any = None) -> Notifier:
        notifier = cls()
        notifier.name = name
        return notifier

    def send(self, event: dict) -> None:
        if "type" in event:
            self._send_notice(event)
            return
        colour = {"tightened": "red", "loosened": "green", "unclear": "yellow"}.get(event["direction"], "blue")
        header = Text()
        header.append(f"{event['direction'].upper()} ", style=f"bold {colour}")
        header.append(f"{event['provider']} · {event['title']}")
        header.append(f" · {event['path'] or event['key']} [{', '.join(event['categories'])}]")
        header.append(f" · {event['observed_at']}", style="dim")
        self.console.print(header)
        self.console.print(f"  {event['reason']}", markup=False)
        self.console.print(Text("  ").append_text(diff_as_rich_text(event["diff"])))

    def _send_notice(self, notice: dict) -> None:
        if notice["type"] in ("answer_change", "selector_drift", "selector_recovered"):
            # render imports Message from this module
            from monitor.alerts.render import notice_summary, notice_title

            self.console.print(Text.assemble((notice_title(notice), "bold magenta")))
            self.console.print(f"  {notice_summary(notice)}", markup=False)
            return
        if notice["type"] == "source_failing":
            self.console.print(Text.assemble(("SOURCE FAILING ", "bold yellow"),
                                             f"{notice['source']}: {notice['failures_in_a_row']} failed captures "
                                             f"in a row, last {notice['failure']}: {notice['error']}"))
        else:
            self.console.print(Text.assemble(("SOURCE RECOVERED ", "bold green"), notice["source"]))

    def describe(self) -> str:
        return "the terminal"


class JsonLinesSettings(ChannelSettings):
    path: str = DEFAULT_ALERTS_FILE


class JsonLinesNotifier(Notifier):
    """Appends one JSON object per alert to a file (`alerts.jsonl` by default)."""

    kind = "jsonl"
    Settings = JsonLinesSettings

    def __init__(self, path: str | Path = DEFAULT_ALERTS_FILE) -> None:
        self.path = Path(path)

    def send(self, event: dict) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(event, ensure_ascii=False) + "\n")

    def describe(self) -> str:
        return str(self.path)


def send_alerts(notifiers: Iterable[Notifier], events: Iterable[dict]) -> list[str]:
    """Send every event through every notifier; a failing channel never stops the others.

    Returns one line per failure, for the caller to report.
    """
    failures = []
    for event in events:
        for notifier in notifiers:
            try:
                notifier.send(event)
            except Exception as error:  # a channel's failure must not lose the other channels' alerts
                failures.append(f"{notifier.kind}: {error}")
    return failures
