"""Politeness of one process: request starts in, waits out, so no host gets more than `per_host` requests in flight
or starts closer than `per_host_delay` apart, and each robots.txt is fetched once, whatever the number of runs.

A daemon runs each source's job in its own thread with its own event loop: the gates and the robots.txt rules are
shared by all of them, so they are guarded by a thread lock, and a waiter on one loop is woken from another.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from monitor.fetch.settings import FetchSettings

# How long a robots.txt is trusted in a long-running process (RFC 9309 §2.4: no longer than 24 hours).
ROBOTS_TTL_SECONDS = 24 * 3600


class HostGates:
    """At most `per_host` requests in flight per host, starts spaced by `delay` seconds, across threads and loops."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.per_host = per_host
        self.delay = delay
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._next_start: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        await self._acquire(host)
        try:
            if self.delay:
                await asyncio.sleep(self._start_delay(host))
            yield
        finally:
            self._release(host)

    async def _acquire(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_flight.get(host, 0) < self.per_host:
                self._in_flight[host] = self._in_flight.get(host, 0) + 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiting.setdefault(host, deque()).append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                queue = self._waiting.get(host, deque())
                handed_over = (loop, waiter) not in queue
                if not handed_over:
                    queue.remove((loop, waiter))
            if handed_over:  # the slot was passed to this waiter as it was cancelled: pass it on
                self._release(host)
            raise

    def _release(self, host: str) -> None:
        """Hand the slot to the first waiter still alive (its count stays taken), else free it."""
        with self._lock:
            queue = self._waiting.get(host)
            while queue:
                loop, waiter = queue.popleft()
                try:
                    loop.call_soon_threadsafe(_wake, waiter)
                    return
                except RuntimeError:  # its loop is closed: that run is over
                    continue
            self._in_flight[host] -= 1

    def _start_delay(self, host: str) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.delay
        return start - now


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a cancelled waiter passes the slot on itself
        waiter.set_result(None)


class RobotsStore:
    """robots.txt rules per address, each fetched once however many threads and loops ask (then kept `ttl`)."""

    def __init__(self, ttl: float = ROBOTS_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, concurrent.futures.Future[Any]]] = {}

    def claim(self, address: str) -> tuple[concurrent.futures.Future[Any], bool]:
        """The rules of `address` (to await), and whether the caller must load them and set the result."""
        with self._lock:
            now = time.monotonic()
            entry = self._entries.get(address)
            if entry is not None and entry[0] > now:
                return entry[1], False
            rules: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._entries[address] = (now + self.ttl, rules)
            return rules, True

    def forget(self, address: str) -> None:
        with self._lock:
            self._entries.pop(address, None)


@dataclass
class Politeness:
    """The per-host limits and robots.txt rules one process's fetches share (one per run unless given)."""

    hosts: HostGates
    robots: RobotsStore = field(default_factory=RobotsStore)

    @classmethod
    def for_settings(cls, settings: FetchSettings) -> Politeness:
        return cls(HostGates(settings.per_host, settings.per_host_delay))
