"""The site's Atom feeds: a feed page's data (`queries.feed_page`) in, the Atom document out, written by the
alerts' one Atom writer (`monitor.alerts.feeds`), so a change reads the same here as in an Atom channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.alerts.feeds import TAG, build_entry, feed_document


def render_feed(data: dict[str, Any], page_path: str, absolute: Callable[[str], str]) -> str:
    """The feed of every clause change, or of one source's (`data["source"]`); `absolute` turns a site path into
    the link the feed carries (absolute when the site's URL is known)."""
    source = data["source"]
    if source:
        feed_key, home = source["id"], f"/sources/{source['id']}"
        title = f"ClauseWatch: {source['provider']} — {source['title']}"
    else:
        feed_key, home, title = "all", "/", "ClauseWatch: every clause change"
    entries = [build_entry({**event, "history_url": absolute(f"/sources/{event['source']}/clauses/{event['key']}")})
               for event in data["events"]]
    document = feed_document(f"{TAG}feed/{feed_key}", title, entries, self_url=absolute(page_path),
                             alternate_url=absolute(home))
    return document.decode("utf-8")
