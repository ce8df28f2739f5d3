"""robots.txt: a page URL in, whether our product token may fetch it out (one robots.txt fetch per origin per run)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from protego import Protego

from monitor.fetch.politeness import RobotsStore

log = logging.getLogger(__name__)

# Google reads the first 500 KiB of a robots.txt and ignores the rest; so do we.
ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsReply:
    """What fetching a robots.txt gave: a status and body, or no status and an error."""

    status: int | None
    body: bytes = b""
    error: str | None = None


RobotsLoader = Callable[[str], Awaitable[RobotsReply]]


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt".lower()


def parse_robots(reply: RobotsReply) -> Protego | None:
    """The rules of a robots.txt reply, or None when everything is allowed.

    Protego applies RFC 9309 as Google does: `*` wildcards, `$` anchors, the longest matching rule
    wins and `Allow` wins a tie; the standard library's parser gets all three wrong.

    4xx means "no robots.txt": allow all (RFC 9309). A 5xx or a network error would
    mean "disallow all" under RFC 9309 §2.3.1.4; we allow instead, on purpose: we fetch
    a few public terms pages twice a day rather than crawl, and a flaky robots.txt would
    otherwise turn every fetch into `blocked` and hide real changes to the terms. The page
    fetch that follows usually fails the same way and is recorded as that failure.
    """
    if reply.status is None or not 200 <= reply.status < 300:
        return None
    return Protego.parse(reply.body.decode("utf-8", errors="replace"))


class RobotsCache:
    """robots.txt rules per origin, kept in a RobotsStore (one run's, or a daemon's shared by all its runs);
    concurrent callers share a single fetch."""

    def __init__(self, token: str, store: RobotsStore | None = None) -> None:
        self.token = token
        self.store = store if store is not None else RobotsStore()

    async def allows(self, url: str, load: RobotsLoader) -> bool:
        """True when robots.txt of the URL's origin lets our token fetch it."""
        address = robots_url(url)
        pending, mine = self.store.claim(address)
        if mine:
            try:
                pending.set_result(await self._load(address, load))
            except BaseException:
                self.store.forget(address)  # the next caller fetches it again
                pending.set_result(None)
                raise
        # Known rules are read at once: wrapping a done future still wakes the loop through its self-pipe.
        rules = pending.result() if pending.done() else await asyncio.wrap_future(pending)
        return rules is None or rules.can_fetch(url, self.token)

    @staticmethod
    async def _load(address: str, load: RobotsLoader) -> Protego | None:
        reply = await load(address)
        if reply.status is None or reply.status >= 500 or reply.status == 429:
            log.info("robots: %s unavailable (%s); allowing all", address, reply.error or reply.status)
        return parse_robots(reply)
