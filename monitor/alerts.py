"""Alert stage: change events in, notifications out through the configured channels.

A notifier is a small class registered by its `kind` (what users write in the config).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, TextIO

from rich.console import Console
from rich.text import Text

DEFAULT_ALERTS_FILE = "alerts.jsonl"


class Notifier:
    """Base of every alert channel; subclasses set `kind` and implement `send`."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Notifier]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Notifier.registry[cls.kind] = cls

    def send(self, event: dict) -> None:
        raise NotImplementedError


class ConsoleNotifier(Notifier):
    """Prints each alert to the terminal: provider, document, clause, direction, reason, word diff."""

    kind = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)

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
        if notice["type"] == "source_failing":
            self.console.print(Text.assemble(("SOURCE FAILING ", "bold yellow"),
                                             f"{notice['source']}: {notice['failures_in_a_row']} failed captures "
                                             f"in a row, last {notice['failure']}: {notice['error']}"))
        else:
            self.console.print(Text.assemble(("SOURCE RECOVERED ", "bold green"), notice["source"]))


def diff_as_rich_text(diff: Iterable[Iterable[Any]]) -> Text:
    """A word diff with symbols as well as colour: [-deleted-] {+inserted+}."""
    text = Text()
    for op, chunk in diff:
        if op == 0:
            text.append(chunk)
        elif op < 0:
            text.append(f"[-{chunk}-]", style="red strike")
        else:
            text.append(f"{{+{chunk}+}}", style="green")
    return text


class JsonLinesNotifier(Notifier):
    """Appends one JSON object per alert to a file (`alerts.jsonl` by default)."""

    kind = "jsonl"

    def __init__(self, path: str | Path = DEFAULT_ALERTS_FILE) -> None:
        self.path = Path(path)

    def send(self, event: dict) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(event, ensure_ascii=False) + "\n")


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
