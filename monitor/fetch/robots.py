"""robots.txt: a page URL in, whether our product token may fetch it out (one robots.txt fetch per origin per run)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from protego import Protego

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
    """robots.txt rules per origin for one run; concurrent callers share a single fetch."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._rules: dict[str, asyncio.Task[Protego | None]] = {}

    async def allows(self, url: str, load: RobotsLoader) -> bool:
        """True when robots.txt of the URL's origin lets our token fetch it."""
        rules = await self._rules_for(robots_url(url), load)
        return rules is None or rules.can_fetch(url, self.token)

    def _rules_for(self, address: str, load: RobotsLoader) -> asyncio.Task[Protego | None]:
        if address not in self._rules:
            self._rules[address] = asyncio.ensure_future(self._load(address, load))
        return self._rules[address]

    @staticmethod
    async def _load(address: str, load: RobotsLoader) -> Protego | None:
        reply = await load(address)
        if reply.status is None or reply.status >= 500 or reply.status == 429:
            log.info("robots: %s unavailable (%s); allowing all", address, reply.error or reply.status)
        return parse_robots(reply)
