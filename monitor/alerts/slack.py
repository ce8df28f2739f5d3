"""Slack channel: a message in, one Slack-compatible incoming-webhook post out (Slack, Mattermost, Rocket.Chat).

The post has a plain `text` fallback and Block Kit blocks: direction badge, provider, document and
clause, the reason, before and after, and links to the source and the history page.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.alerts.base import ChannelNotifier, Message
from monitor.alerts.render import badge, clause_name, notice_summary, notice_title, subject
from monitor.alerts.webhook import HttpChannelSettings, mask_url, post_with_retries
from monitor.diffs import diff_as_text

# Slack refuses a section text over 3000 characters and a message over 50 blocks.
_TEXT_LIMIT = 2900
_MAX_ITEMS = 15


class SlackSettings(HttpChannelSettings):
    username: str | None = None
    icon_emoji: str | None = None

    # the incoming-webhook URL is the credential
    secret_fields = ("url",)


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; page text can then never make a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(text: str) -> str:
    text = _cut(text or "(none)", 1200)
    return "\n".join("> " + escape_mrkdwn(line) for line in text.splitlines() or [""])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str, label: str) -> str:
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{escape_mrkdwn(label)}>"


def _event_blocks(event: dict) -> list[dict]:
    head = (f"*{badge(event['direction'])}* {escape_mrkdwn(event['provider'])} · "
            f"{escape_mrkdwn(event['title'])} · clause *{escape_mrkdwn(clause_name(event))}*")
    facts = [f"*Why:* {escape_mrkdwn(event['kind'])}: {escape_mrkdwn(event['reason'])}",
             f"*Categories:* {escape_mrkdwn(', '.join(event['categories']) or '-')}",
             f"*Seen:* {event['observed_at']} (version {event['version']})"]
    links = [_link(event["url"], "source")]
    if event.get("history_url"):
        links.append(_link(event["history_url"], "history"))
    evidence = f"snapshot SHA-256 `{event['snapshot_sha256']}`" if event.get("snapshot_sha256") else ""
    diff = escape_mrkdwn(_cut(diff_as_text(event["diff"]), 1200))
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(head + "\n" + "\n".join(facts), _TEXT_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"*Before*\n{_quote(event['before'])}\n*After*\n{_quote(event['after'])}\n*Word diff*\n{diff}",
            _TEXT_LIMIT)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links + [evidence] if evidence
                                                                                 else links)}]},
    ]


def _notice_blocks(notice: dict) -> list[dict]:
    icon = "⚠️" if notice["type"] in ("source_failing", "selector_drift") else "✅"
    text = (f"*{icon} {escape_mrkdwn(notice_title(notice))}* ({escape_mrkdwn(notice['provider'])} · "
            f"{escape_mrkdwn(notice['title'])})\n{escape_mrkdwn(notice_summary(notice))}\n"
            f"{_link(notice['url'], 'source')}")
    return [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _TEXT_LIMIT)}}]


def slack_payload(message: Message, username: str | None = None, icon_emoji: str | None = None) -> dict:
    """The JSON an incoming webhook takes for this message."""
    blocks: list[dict] = []
    if len(message.items) > 1:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": _cut(subject(message, ""), 150)}})
    for item in message.items[:_MAX_ITEMS]:
        if blocks:
            blocks.append({"type": "divider"})
        blocks += _notice_blocks(item) if "type" in item else _event_blocks(item)
    if len(message.items) > _MAX_ITEMS:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"and {len(message.items) - _MAX_ITEMS} more: `clausewatch changes`"}]})
    payload: dict[str, Any] = {"text": escape_mrkdwn(subject(message, "ClauseWatch:")), "blocks": blocks}
    if username:
        payload["username"] = username
    if icon_emoji:
        payload["icon_emoji"] = icon_emoji
    return payload


class SlackNotifier(ChannelNotifier):
    """Posts each message to a Slack-compatible incoming webhook."""

    kind = "slack"
    Settings = SlackSettings

    def deliver(self, message: Message) -> None:
        content = json.dumps(slack_payload(message, self.settings.username, self.settings.icon_emoji),
                             ensure_ascii=False).encode("utf-8")
        post_with_retries(self.settings.url, content=content, timeout=self.settings.timeout,
                          retries=self.settings.retries, transport=self.transport,
                          headers={"Content-Type": "application/json", "X-ClauseWatch-Id": message.id})

    def describe(self) -> str:
        return f"POST {mask_url(self.settings.url)}"
