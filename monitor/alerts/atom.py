"""Atom channel: messages in, Atom feed files out: `all.xml` with everything and `<source id>.xml` per source.

Each event or notice is one entry whose id is derived from the event (not the run, not the channel),
so re-sending it replaces the entry in place and a feed reader never shows it twice. The entries and the
documents are written by `monitor.alerts.feeds`, which also writes the web site's feeds.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path
from xml.etree import ElementTree

from pydantic import Field, field_validator

from monitor.alerts.base import NAMESPACE, ChannelNotifier, ChannelSettings, Message
from monitor.alerts.feeds import build_entry, entry_id, feed_document, tag

__all__ = ["AtomNotifier", "AtomSettings", "build_entry", "entry_id", "write_feed"]

_lock = threading.Lock()  # feeds are rewritten whole; one writer at a time in this process
ALL_FEED = "all"


class AtomSettings(ChannelSettings):
    directory: str
    title: str = "ClauseWatch"
    max_entries: int = Field(200, ge=1)
    # the public URL the feed files are served from, for their rel="self" links
    feed_url: str | None = None

    @field_validator("feed_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value


def _read_entries(path: Path) -> list[ElementTree.Element]:
    if not path.exists():
        return []
    try:
        return ElementTree.parse(path).getroot().findall(tag("entry"))
    except ElementTree.ParseError:  # a damaged file is rebuilt from the entries sent from now on
        return []


def write_feed(path: Path, feed_key: str, title: str, new_entries: list[ElementTree.Element], max_entries: int,
               feed_url: str | None = None) -> None:
    """Merge entries into the feed file at `path` (same id: replaced), newest first, atomically."""
    by_id: dict[str, ElementTree.Element] = {}
    for entry in _read_entries(path) + new_entries:
        by_id[entry.findtext(tag("id")) or ""] = entry
    entries = sorted(by_id.values(), key=lambda e: (e.findtext(tag("updated")) or "", e.findtext(tag("id")) or ""),
                     reverse=True)[:max_entries]
    data = feed_document(f"urn:uuid:{uuid.uuid5(NAMESPACE, 'feed/' + feed_key)}", title, entries,
                         self_url=f"{feed_url}/{path.name}" if feed_url else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class AtomNotifier(ChannelNotifier):
    """Writes every event and notice as an entry of `all.xml` and of its source's feed."""

    kind = "atom"
    Settings = AtomSettings

    def deliver(self, message: Message) -> None:
        directory = Path(self.settings.directory)
        by_source: dict[str, list[dict]] = {}
        for item in message.items:
            by_source.setdefault(item["source"], []).append(item)
        with _lock:
            write_feed(directory / f"{ALL_FEED}.xml", ALL_FEED, self.settings.title,
                       [build_entry(item) for item in message.items], self.settings.max_entries,
                       self.settings.feed_url)
            for source, items in by_source.items():
                write_feed(directory / f"{_safe(source)}.xml", f"source/{source}",
                           f"{self.settings.title}: {items[0].get('provider', '')} · {items[0].get('title', source)}",
                           [build_entry(item) for item in items], self.settings.max_entries, self.settings.feed_url)

    def describe(self) -> str:
        return f"Atom feeds in {self.settings.directory}/ (all.xml and one per source)"


def _safe(source: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in source).lstrip(".")
    return name if name != ALL_FEED else f"source-{name}"
