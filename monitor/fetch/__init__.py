"""Fetch stage: a source's URL (or a local file) in, a `FetchResult` out. Only this stage talks to the network.

Each source is fetched by the fetcher its `fetcher:` kind names (`registry`: `http`, `browser`; `file` for a
local path).
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

# Outcomes of a fetch attempt, as stored in fetch_attempt.outcome.
OK = "ok"
NOT_MODIFIED = "not_modified"
FAILURE_KINDS = (
    "network_error",
    "timeout",
    "http_error",
    "rate_limited",
    "blocked",
    "invalid",
    "too_large",
    "analysis_error",
)


@dataclass(frozen=True)
class FetchResult:
    """What one attempt to get a source's bytes produced.

    `outcome` is `ok`, `not_modified` or one of FAILURE_KINDS; `body` is empty unless ok.
    """

    url: str
    outcome: str
    started_at: dt.datetime
    elapsed_ms: int
    body: bytes = b""
    http_status: int | None = None
    content_type: str | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == OK


# Imported last: these modules import FetchResult from this package.
from monitor.fetch.settings import FetchRequest, FetchSettings  # noqa: E402
from monitor.fetch.registry import Fetcher, fetch_requests, fetcher_for, registered_fetchers  # noqa: E402

# The fetchers load on first use, and the HTTP client with them: a process that only analyses and stores
# what another fetched (an analysis worker, which needs FetchResult) never imports httpx.
_FETCHER_FUNCTIONS = {"fetch_source": "http", "fetch_sources": "http", "read_file": "file"}


def __getattr__(name: str) -> Any:
    if name not in _FETCHER_FUNCTIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_FETCHER_FUNCTIONS[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FAILURE_KINDS",
    "NOT_MODIFIED",
    "OK",
    "FetchRequest",
    "FetchResult",
    "FetchSettings",
    "Fetcher",
    "fetch_requests",
    "fetch_source",
    "fetch_sources",
    "fetcher_for",
    "read_file",
    "registered_fetchers",
]
