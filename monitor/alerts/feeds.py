"""Atom documents: change events and notices in, Atom 1.0 XML out. The one Atom writer: the Atom channel
(`atom`, feed files) and the web site's feeds (`monitor.web.feeds`) both write their entries with it.

Every text goes in through ElementTree, which escapes it (an entry's HTML content is escaped once more, as
Atom wants `type="html"`); characters XML 1.0 cannot hold at all become U+FFFD, so a control character in a
page never makes a feed unreadable.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from xml.etree import ElementTree

from monitor.alerts.base import NAMESPACE, item_identity
from monitor.alerts.render import item_html, item_text, item_title
from monitor.timestamps import now_iso

ATOM = "http://www.w3.org/2005/Atom"
ElementTree.register_namespace("", ATOM)
# The ids of change events, and of the site's feeds: stable across runs, channels and re-imported databases.
TAG = "tag:clausewatch,2025:"
EPOCH = "1970-01-01T00:00:00Z"  # the `updated` of a feed without entries
# What XML 1.0 cannot hold, not even as a character reference.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def entry_id(item: dict) -> str:
    """The Atom id of an event or notice: the same in every feed (the channel's, the site's) and every run."""
    if "type" not in item:
        return f"{TAG}{item['source']}/v{item['version']}/{item['key']}"
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, item_identity(item))}"


def tag(name: str) -> str:
    """An Atom element's qualified name, as ElementTree writes and finds it."""
    return f"{{{ATOM}}}{name}"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _sub(parent: ElementTree.Element, name: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag(name), {key: _xml_text(value) for key, value in attributes.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def build_entry(item: dict) -> ElementTree.Element:
    """One event or notice as an Atom entry: its title, time, links (history page, then the document), the
    provider as author, categories and direction, a plain-text summary and the whole item as HTML."""
    entry = ElementTree.Element(tag("entry"))
    _sub(entry, "id", entry_id(item))
    _sub(entry, "title", item_title(item))
    moment = item.get("observed_at") or item.get("at") or now_iso()
    _sub(entry, "published", moment)
    _sub(entry, "updated", moment)
    link = item.get("history_url") or item["url"]
    if link:
        _sub(entry, "link", href=link, rel="alternate", type="text/html")
    if item["url"] and link != item["url"]:
        _sub(entry, "link", href=item["url"], rel="related")
    author = _sub(entry, "author")
    _sub(author, "name", item.get("provider") or "ClauseWatch")
    for category in item.get("categories", []):
        _sub(entry, "category", term=category)
    if "direction" in item:
        _sub(entry, "category", term=item["direction"], scheme="urn:clausewatch:direction")
    _sub(entry, "summary", item_text(item).split("\n\nBefore:")[0], type="text")
    _sub(entry, "content", str(item_html(item)), type="html")
    return entry


def feed_document(feed_id: str, title: str, entries: Sequence[ElementTree.Element], *,
                  self_url: str | None = None, alternate_url: str | None = None) -> bytes:
    """A whole feed of `entries` (in the order given), UTF-8 with its XML declaration; `updated` is the newest
    entry's."""
    feed = ElementTree.Element(tag("feed"))
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    _sub(feed, "updated", max((entry.findtext(tag("updated")) or "" for entry in entries), default=EPOCH))
    author = _sub(feed, "author")
    _sub(author, "name", "ClauseWatch")
    _sub(feed, "generator", "ClauseWatch")
    if self_url:
        _sub(feed, "link", href=self_url, rel="self", type="application/atom+xml")
    if alternate_url:
        _sub(feed, "link", href=alternate_url, rel="alternate", type="text/html")
    feed.extend(entries)
    ElementTree.indent(feed)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
