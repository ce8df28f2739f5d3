"""Rendering: a message's items (change events, notices) in; subject, plain text and HTML out.

HTML goes through jinja2 with autoescape, so every piece of page text (clause text, reasons, titles)
arrives escaped: a `<script>` in a page is shown, never run.
"""

from __future__ import annotations

import functools

from markupsafe import Markup

from monitor.alerts.base import Message
from monitor.diffs import diff_as_html, diff_as_text

BADGES = {"tightened": "🔴", "loosened": "🟢", "unclear": "🟡", "reworded": "🔵"}
COLOURS = {"tightened": "#b42318", "loosened": "#067647", "unclear": "#b54708", "reworded": "#175cd3"}
NOTICE_TITLES = {"source_failing": "SOURCE FAILING", "source_recovered": "SOURCE RECOVERED",
                 "selector_drift": "SELECTOR DRIFT", "selector_recovered": "SELECTORS MATCH AGAIN"}


def badge(direction: str) -> str:
    """The direction as a short badge: an emoji and the word in capitals."""
    return f"{BADGES.get(direction, '⚪')} {direction.upper()}"


def clause_name(event: dict) -> str:
    return event.get("path") or event.get("key") or "?"


def event_title(event: dict) -> str:
    """One line naming the change: direction, provider, document, clause."""
    return f"{event['direction'].upper()}: {event['provider']} · {event['title']} · {clause_name(event)}"


def notice_title(notice: dict) -> str:
    if notice["type"] == "answer_change":
        from monitor.alerts.answers import answer_change_title  # here: answers imports this module

        return answer_change_title(notice)
    return f"{NOTICE_TITLES.get(notice['type'], notice['type'])}: {notice['source']}"


def item_title(item: dict) -> str:
    return notice_title(item) if "type" in item else event_title(item)


def notice_summary(notice: dict) -> str:
    """What happened to the source, in one sentence."""
    if notice["type"] == "answer_change":
        from monitor.alerts.answers import answer_change_summary  # here: answers imports this module

        return answer_change_summary(notice)
    if notice["type"] == "source_failing":
        return (f"{notice['failures_in_a_row']} failed captures in a row, last {notice.get('failure', '?')}: "
                f"{notice.get('error', '')}").rstrip(": ")
    if notice["type"] == "selector_drift":
        return f"{notice.get('error', '')} (check-source {notice['source']} --suggest prints a selector)"
    if notice["type"] == "selector_recovered":
        return "the source's selectors match the page again"
    return "captures succeed again"


def subject(message: Message, prefix: str = "[ClauseWatch]") -> str:
    """The subject line (email, Atom title, Apprise title) of a message."""
    if len(message.items) == 1:
        return f"{prefix} {item_title(message.items[0])}".strip()
    events, notices = message.events, message.notices
    parts = []
    versions = {(event["source"], event["version"]) for event in events}
    if events and not notices and len(versions) == 1:  # one new version's changes (an email per version)
        prefix = f"{prefix} {events[0]['provider']} · {events[0]['title']}, version {events[0]['version']}:".strip()
    if events:
        counts: dict[str, int] = {}
        for event in events:
            counts[event["direction"]] = counts.get(event["direction"], 0) + 1
        parts.append(f"{len(events)} clause changes ("
                     + ", ".join(f"{count} {direction}" for direction, count in counts.items()) + ")")
    answers = [notice for notice in notices if notice["type"] == "answer_change"]
    if answers:
        parts.append(f"{len(answers)} answer changes")
    if len(notices) > len(answers):
        parts.append(f"{len(notices) - len(answers)} source notices")
    return f"{prefix} {'; '.join(parts)}".strip()


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in (text or "(none)").splitlines())


def event_text(event: dict) -> str:
    """Everything about one event, in plain text."""
    lines = [
        event_title(event),
        f"Categories: {', '.join(event['categories']) or '-'}",
        f"Direction: {event['direction']} ({event['kind']}): {event['reason']}",
        f"Seen: {event['observed_at']} (version {event['version']})",
        f"Source: {event['url']}",
    ]
    if event.get("history_url"):
        lines.append(f"History: {event['history_url']}")
    if event.get("snapshot_sha256"):
        lines.append(f"Evidence: snapshot SHA-256 {event['snapshot_sha256']}")
    lines += ["", "Before:", _indent(event["before"]), "", "After:", _indent(event["after"]), "",
              "Word diff ([-deleted-] {+inserted+}):", _indent(diff_as_text(event["diff"]))]
    return "\n".join(lines)


def notice_text(notice: dict) -> str:
    if notice["type"] == "answer_change":
        from monitor.alerts.answers import answer_change_text  # here: answers imports this module

        return answer_change_text(notice)
    return "\n".join([notice_title(notice), f"{notice['provider']} · {notice['title']}", notice_summary(notice),
                      f"Source: {notice['url']}", f"At: {notice.get('at', '')}"])


def item_text(item: dict) -> str:
    return notice_text(item) if "type" in item else event_text(item)


def message_text(message: Message) -> str:
    """The plain-text body of a message (email text part, Apprise body, digest)."""
    body = "\n\n----------------------------------------\n\n".join(item_text(item) for item in message.items)
    footer = f"\n\n--\nClauseWatch message {message.id}"
    if len(message.items) > 1:
        return f"{subject(message, '')}\n\n{body}{footer}"
    return body + footer


_ITEM = """\
{% if item.type is defined %}
<div class="notice" style="margin:0 0 1.5em 0">
  <h2 style="font-size:1.1em;margin:0 0 .3em 0">{{ notice_title(item) }}</h2>
  <p style="margin:.2em 0">{{ item.provider }} · {{ item.title }}: {{ notice_summary(item) }}</p>
  <p style="margin:.2em 0"><a href="{{ item.url }}">{{ item.url }}</a> · {{ item.at }}</p>
</div>
{% else %}
<div class="event" style="margin:0 0 1.5em 0">
  <h2 style="font-size:1.1em;margin:0 0 .3em 0">
    <span style="color:#fff;background:{{ colours.get(item.direction, '#475467') }};padding:1px 6px;border-radius:3px">{{ item.direction | upper }}</span>
    {{ item.provider }} · {{ item.title }} · {{ clause_name(item) }}
  </h2>
  <table style="border-collapse:collapse;font-size:.95em">
    <tr><th align="left" style="padding-right:1em">Categories</th><td>{{ item.categories | join(', ') or '-' }}</td></tr>
    <tr><th align="left" style="padding-right:1em">Why</th><td>{{ item.kind }}: {{ item.reason }}</td></tr>
    <tr><th align="left" style="padding-right:1em">Seen</th><td>{{ item.observed_at }} (version {{ item.version }})</td></tr>
    <tr><th align="left" style="padding-right:1em">Source</th><td><a href="{{ item.url }}">{{ item.url }}</a></td></tr>
{% if item.history_url %}
    <tr><th align="left" style="padding-right:1em">History</th><td><a href="{{ item.history_url }}">{{ item.history_url }}</a></td></tr>
{% endif %}
{% if item.snapshot_sha256 %}
    <tr><th align="left" style="padding-right:1em">Evidence</th><td>snapshot SHA-256 <code>{{ item.snapshot_sha256 }}</code></td></tr>
{% endif %}
  </table>
  <h3 style="font-size:1em;margin:.8em 0 .2em 0">Word diff</h3>
  <p class="diff" style="white-space:pre-wrap;margin:.2em 0">{{ item.diff | diff_html }}</p>
  <h3 style="font-size:1em;margin:.8em 0 .2em 0">Before</h3>
  <blockquote style="white-space:pre-wrap;margin:.2em 0 .2em 1em;color:#475467">{{ item.before or '(none)' }}</blockquote>
  <h3 style="font-size:1em;margin:.8em 0 .2em 0">After</h3>
  <blockquote style="white-space:pre-wrap;margin:.2em 0 .2em 1em">{{ item.after or '(none)' }}</blockquote>
</div>
{% endif %}
"""

_PAGE = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:50em">
{% if several %}<h1 style="font-size:1.2em">{{ title }}</h1>
{% endif %}
{% for item in items %}{{ render_item(item) }}{% endfor %}
<p style="color:#98a2b3;font-size:.8em">ClauseWatch message {{ message_id }}</p>
</body></html>
"""


@functools.cache
def _templates() -> tuple:
    """The item and page templates, compiled on first use (jinja2 is imported only by runs that send HTML)."""
    # jinja2 for an email's HTML only: a cron run with console alerts never imports it
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["diff_html"] = diff_as_html
    env.globals.update(badge=badge, clause_name=clause_name, notice_title=notice_title, notice_summary=notice_summary,
                        colours=COLOURS)
    return env.from_string(_ITEM), env.from_string(_PAGE)


def item_html(item: dict) -> Markup:
    """One event or notice as an HTML fragment (email part, Atom entry content)."""
    return Markup(_templates()[0].render(item=item))


def message_html(message: Message) -> str:
    """The HTML body of a message: a whole document, every piece of page text escaped."""
    return _templates()[1].render(title=subject(message, ""), several=len(message.items) > 1,
                                  items=message.items, render_item=item_html, message_id=message.id)


def sample_event() -> dict:
    """A made-up tightened event, for `clausewatch alerts test`: every field a real one has."""
    before = "You may not use Output to develop models that compete with Example, except for research."
    after = "You may not use Output to develop models that compete with Example."
    return {
        "id": 0, "source": "example-terms", "provider": "Example AI", "title": "Terms of Use (test message)",
        "url": "https://example.com/terms", "version": 2, "observed_at": "2026-01-01T09:00:00Z",
        "key": "c-test", "path": "3.3(e)", "kind": "modified", "categories": ["output_training", "competing_use"],
        "direction": "tightened", "reason": "exception 'except for research' removed (this is a test message)",
        "before": before, "after": after,
        "diff": [[0, "You may not use Output to develop models that compete with Example"],
                 [-1, ", except for research"], [0, "."]],
        "alert": True, "history_url": None,
        "snapshot_sha256": "0" * 64,
    }
