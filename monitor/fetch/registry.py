"""Fetchers by kind: `FetchRequest`s in, each handed to the fetcher its kind names (`http`, `browser`, `file`),
`FetchResult`s out through the caller's callback.

A fetcher is a small `Fetcher` subclass registered by its `kind`, what sources write in `fetcher:` (as alert
channels are `Notifier`s registered by theirs); adding a kind is adding one class.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from monitor.fetch import FetchResult
from monitor.fetch.politeness import Politeness
from monitor.fetch.settings import FetchRequest, FetchSettings
from monitor.sources import allow_fetcher_kind

ResultCallback = Callable[[FetchRequest, FetchResult], None]
Admit = Callable[[], Awaitable[None]]


class Fetcher:
    """Base of every fetcher; subclasses set `kind` and implement `fetch`."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Fetcher]]] = {}
    # False for a kind no source names (`file`: the requests that carry a local path)
    named_by_sources: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Fetcher.registry[cls.kind] = cls
            if cls.named_by_sources:
                allow_fetcher_kind(cls.kind)

    async def fetch(self, requests: Sequence[FetchRequest], settings: FetchSettings, on_result: ResultCallback, *,
                    politeness: Politeness | None = None, admit: Admit | None = None) -> None:
        """Fetch every request, calling `on_result` as each finishes; a failed fetch is a result, not an error.

        `politeness` (per-host limits and robots.txt rules shared with other calls) and `admit` (the caller's
        back-pressure, awaited before a body is read) are for fetchers that use them.
        """
        raise NotImplementedError


# The fetchers this package defines, imported when a kind is first looked up (see monitor/fetch/__init__.py).
BUILTIN_FETCHER_MODULES = ("http", "file", "browser")


def registered_fetchers() -> dict[str, type[Fetcher]]:
    """Every registered fetcher class by its kind, the built-in ones included."""
    for name in BUILTIN_FETCHER_MODULES:
        importlib.import_module(f"monitor.fetch.{name}")
    return Fetcher.registry


def fetcher_for(kind: str) -> Fetcher:
    """The fetcher registered for `kind`; ValueError naming the known kinds when there is none."""
    fetchers = registered_fetchers()
    try:
        return fetchers[kind]()
    except KeyError:
        raise ValueError(f"no fetcher of kind {kind!r} (one of: {', '.join(sorted(fetchers))})") from None


async def fetch_requests(requests: Sequence[FetchRequest], settings: FetchSettings, on_result: ResultCallback, *,
                         politeness: Politeness | None = None, admit: Admit | None = None) -> None:
    """Every request fetched by the fetcher of its kind, the kinds side by side; `on_result` as each finishes."""
    by_kind: dict[str, list[FetchRequest]] = {}
    for request in requests:
        by_kind.setdefault(request.fetcher, []).append(request)
    fetchers = [(fetcher_for(kind), batch) for kind, batch in by_kind.items()]
    await asyncio.gather(*(fetcher.fetch(batch, settings, on_result, politeness=politeness, admit=admit)
                           for fetcher, batch in fetchers))
