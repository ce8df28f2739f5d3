"""Fetch failures: what went wrong with one attempt in, a `FetchFailure` (outcome, error text, transient or not) out."""

from __future__ import annotations

import httpx

TRANSIENT_OUTCOMES = frozenset({"network_error", "timeout", "rate_limited"})


class FetchFailure(Exception):
    """An attempt that did not give a usable reply; becomes a failed FetchResult or a retry."""

    def __init__(self, outcome: str, error: str, *, status: int | None = None, url: str | None = None,
                 headers: httpx.Headers | None = None, retry_after: float | None = None,
                 transient: bool | None = None) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.status = status
        self.url = url
        self.headers = headers
        self.retry_after = retry_after
        if transient is None:
            transient = outcome in TRANSIENT_OUTCOMES or (outcome == "http_error" and (status or 0) >= 500)
        self.transient = transient


def describe_error(error: BaseException) -> str:
    """An exception as error text: its type and its message (or errno text)."""
    text = str(error) or getattr(error, "strerror", None) or ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
