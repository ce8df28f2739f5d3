"""Response cache: a request's path and query in, the response rendered for it out, while the data it was rendered
from is unchanged (the database's data stamp); a stored page answers on the event loop, with no database work.

Versions, clauses and events are never edited, only added, so a page changes only when the stamp does. The
stamp is read at most once per `stamp_ttl` seconds: a new version shows within that delay.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

DEFAULT_MAX_BYTES = 48 * 2**20
DEFAULT_STAMP_TTL = 1.0
# A larger body (a big PDF snapshot) is served without being kept.
MAX_ENTRY_BYTES = 2 * 2**20


@dataclass(frozen=True)
class CachedResponse:
    """A response's body and headers as sent, with the entity tag that lets a browser revalidate it."""

    body: bytes
    media_type: str
    headers: dict[str, str]
    etag: str


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class ResponseCache:
    """Rendered responses by key, bounded in bytes (least recently used first out), valid for one data stamp.

    Used from the event loop only (no locks): reads of the stamp run in a worker thread.
    """

    def __init__(self, read_stamp: Callable[[], Any], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 stamp_ttl: float = DEFAULT_STAMP_TTL) -> None:
        self._read_stamp = read_stamp
        self.max_bytes = max_bytes
        self.stamp_ttl = stamp_ttl
        self._stamp: Any = None
        self._checked_at = float("-inf")
        self._entries: OrderedDict[Any, CachedResponse] = OrderedDict()
        self._bytes = 0

    async def stamp(self) -> Any:
        """The data stamp, read again when the last reading is older than `stamp_ttl`; a new one empties the cache."""
        now = time.monotonic()
        if now - self._checked_at >= self.stamp_ttl:
            stamp = await anyio.to_thread.run_sync(self._read_stamp)
            self._checked_at = time.monotonic()
            if stamp != self._stamp:
                self._stamp = stamp
                self.clear()
        return self._stamp

    def get(self, key: Any, stamp: Any) -> CachedResponse | None:
        if stamp != self._stamp:
            return None
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Any, stamp: Any, body: bytes, media_type: str, headers: dict[str, str]) -> CachedResponse:
        """Keep a response rendered under `stamp` (unless the stamp moved on meanwhile, or it is too large)."""
        entry = CachedResponse(body, media_type, headers, headers.get("etag") or entity_tag(body))
        if stamp != self._stamp or len(body) > MAX_ENTRY_BYTES:
            return entry
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous.body)
        self._entries[key] = entry
        self._bytes += len(body)
        while self._bytes > self.max_bytes and self._entries:
            _, oldest = self._entries.popitem(last=False)
            self._bytes -= len(oldest.body)
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) held."""
        return len(self._entries), self._bytes
