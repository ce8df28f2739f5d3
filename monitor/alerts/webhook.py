"""Webhook channel: a message in, one signed JSON POST out.

Headers: `X-ClauseWatch-Id` (stable per event and channel: drop a repeat you have already seen),
`X-ClauseWatch-Timestamp` (Unix seconds) and `X-ClauseWatch-Signature: sha256=<hex>`, the HMAC-SHA256
with the shared secret of `<timestamp>.<body>`. See `verify_signature` for the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import tenacity
from pydantic import Field, field_validator

from monitor.alerts.base import ChannelError, ChannelNotifier, ChannelSettings, Message
from monitor.timestamps import now_iso

ID_HEADER = "X-ClauseWatch-Id"
TIMESTAMP_HEADER = "X-ClauseWatch-Timestamp"
SIGNATURE_HEADER = "X-ClauseWatch-Signature"
USER_AGENT = "ClauseWatch-Alerts/1"
# Statuses worth trying again at once; other 4xx mean the request itself is wrong.
_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("is not an http(s) URL")
    return value


class HttpChannelSettings(ChannelSettings):
    url: str
    timeout: float = Field(10.0, gt=0)
    retries: int = Field(2, ge=0, le=10)  # immediate retries of a transient failure; the outbox retries later

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class WebhookSettings(HttpChannelSettings):
    secret: str | None = None
    headers: dict[str, str] = {}

    secret_fields = ("secret",)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this body and timestamp."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, body: bytes, timestamp: str, signature: str, *,
                     tolerance: float = 300, now: float | None = None) -> bool:
    """What a receiver does: recompute the HMAC, compare in constant time, refuse stale timestamps."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class _TransientError(ChannelError):
    """A failure worth trying again at once: the connection, or a status in _TRANSIENT."""


def post_with_retries(url: str, *, content: bytes, headers: dict[str, str], timeout: float, retries: int,
                      transport: httpx.BaseTransport | None = None,
                      headers_for_attempt: Any = None) -> httpx.Response:
    """POST, retrying connection failures and transient statuses with a short backoff; raise on failure."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=0.5, max=5),
        retry=tenacity.retry_if_exception_type(_TransientError),
        reraise=True,
    )
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                      headers={"User-Agent": USER_AGENT}) as client:
        def post() -> httpx.Response:
            extra = headers_for_attempt() if headers_for_attempt else {}
            try:
                response = client.post(url, content=content, headers={**headers, **extra})
            except httpx.HTTPError as error:
                raise _TransientError(f"{type(error).__name__}: {error}") from None
            if response.is_success:
                return response
            failure = (_TransientError if response.status_code in _TRANSIENT else ChannelError)
            raise failure(f"HTTP {response.status_code} {response.reason_phrase}: "
                          f"{response.text[:200].strip()}".rstrip(": "))

        return retrying(post)


class WebhookNotifier(ChannelNotifier):
    """POSTs each message as JSON to a URL, signed with HMAC-SHA256 when a secret is set."""

    kind = "webhook"
    Settings = WebhookSettings

    def body(self, message: Message) -> dict:
        return {
            "id": message.id,
            "channel": self.name,
            "digest": message.digest,
            "sent_at": now_iso(),
            "events": message.events,
            "notices": message.notices,
        }

    def deliver(self, message: Message) -> None:
        content = json.dumps(self.body(message), ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json", ID_HEADER: message.id, "Idempotency-Key": message.id,
                   **self.settings.headers}

        def signed() -> dict[str, str]:  # a fresh timestamp on every attempt, so retries stay within tolerance
            timestamp = str(int(time.time()))
            extra = {TIMESTAMP_HEADER: timestamp}
            if self.settings.secret:
                extra[SIGNATURE_HEADER] = sign(self.settings.secret, timestamp, content)
            return extra

        post_with_retries(self.settings.url, content=content, headers=headers, timeout=self.settings.timeout,
                          retries=self.settings.retries, transport=self.transport, headers_for_attempt=signed)

    def describe(self) -> str:
        signed = "signed" if self.settings.secret else "unsigned"
        return f"POST {mask_url(self.settings.url)} ({signed})"


def mask_url(url: str) -> str:
    """Scheme and host only: paths and queries of hook URLs carry tokens."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    rest = "/****" if parsed.raw_path not in (b"", b"/") else ""
    return f"{parsed.scheme}://{parsed.host}{port}{rest}"
