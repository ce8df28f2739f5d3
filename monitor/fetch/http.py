"""HTTP fetch: `FetchRequest`s in, `FetchResult`s out: the crawl (httpcore pools per host, politeness,
robots.txt, redirects hop by hop, retries with backoff, each source's time budget).

Every hop passes the address rule first (`addresses`), goes over the host's connections (`connections`), and its
body is read within its limits by `bodies`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from monitor.fetch import NOT_MODIFIED, OK, FetchResult
from monitor.fetch.addresses import AddressPolicy, Resolver, check_url
from monitor.fetch.bodies import Reply, read_reply
from monitor.fetch.connections import HostConnections
from monitor.fetch.failure import FetchFailure, describe_error
from monitor.fetch.politeness import Politeness
from monitor.fetch.registry import Admit, Fetcher, ResultCallback
from monitor.fetch.retries import final_failure, parse_retry_after, retry_wait
from monitor.fetch.robots import ROBOTS_MAX_BYTES, RobotsCache, RobotsReply
from monitor.fetch.settings import FetchRequest, FetchSettings
from monitor.settings import unfit_for_a_header
from monitor.sources import Source

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
ROBOTS_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_KEPT_HEADERS = (
    "content-type", "content-length", "content-encoding", "content-language", "etag",
    "last-modified", "date", "cache-control", "retry-after", "location", "server", "x-robots-tag",
)


# ---------------------------------------------------------------- public API

def accept_language(source: Source) -> dict[str, str]:
    """The Accept-Language header of a source that pins its language (`language: en`), else none."""
    return {"Accept-Language": source.language} if source.language else {}


async def fetch_sources(
    requests: Sequence[FetchRequest],
    settings: FetchSettings,
    on_result: Callable[[FetchRequest, FetchResult], None] | None = None,
    politeness: Politeness | None = None,
    *,
    admit: Callable[[], Awaitable[None]] | None = None,
    keep_results: bool = True,
) -> list[FetchResult]:
    """Fetch every request with bounded concurrency; results in the order of `requests`.

    `politeness`: per-host limits and robots.txt rules shared with other calls (a daemon's); by default this
    call's own. `on_result` is called as each fetch finishes. A failed fetch is a result, never an
    exception. `elapsed_ms` counts the fetch's own time: not the time it queued behind
    other requests for the global or per-host limits. `admit`, awaited by each request once it holds
    its slots, is the caller's back-pressure (it returns when the caller can take another body). With
    `keep_results=False` nothing is returned, so a body is freed once `on_result` is done with it.
    """
    results: list[FetchResult | None] = [None] * len(requests)

    async def fetch_one(index: int, request: FetchRequest) -> None:
        result = await crawl.fetch(request)
        if keep_results:
            results[index] = result
        if on_result is not None:
            on_result(request, result)

    async with _Crawl(settings, politeness, admit) as crawl, asyncio.TaskGroup() as group:
        for index, request in enumerate(requests):
            group.create_task(fetch_one(index, request))
    return [result for result in results if result is not None]


def fetch_source(request: FetchRequest, settings: FetchSettings) -> FetchResult:
    """Fetch one source synchronously (not from inside a running event loop)."""
    return asyncio.run(fetch_sources([request], settings))[0]


class HttpFetcher(Fetcher):
    """Plain HTTP(S) over httpcore: the fetcher of every source that names no other."""

    kind = "http"

    async def fetch(self, requests: Sequence[FetchRequest], settings: FetchSettings, on_result: ResultCallback, *,
                    politeness: Politeness | None = None, admit: Admit | None = None) -> None:
        await fetch_sources(requests, settings, on_result, politeness, admit=admit, keep_results=False)


class _Budget:
    """Time limits of one source: `total_timeout` per attempt, `overall_timeout` in all.

    Time spent queued behind other requests (global and per-host limits) is not counted,
    so a source late in a long queue still gets its full allowance.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.total = settings.total_timeout
        self.overall = settings.overall_timeout
        self.start = time.monotonic()
        self.queued = 0.0
        self.attempt_left = self.total

    def new_attempt(self) -> None:
        self.attempt_left = self.total

    def spent(self) -> float:
        return time.monotonic() - self.start - self.queued

    def overall_left(self) -> float:
        return self.overall - self.spent()

    def limit(self) -> float:
        return max(0.0, min(self.attempt_left, self.overall_left()))


# ---------------------------------------------------------------- one crawl run

class _Crawl:
    """Shared state of one `fetch_sources` call: connections, limits, DNS and robots caches (the per-host limits and
    robots rules those of `politeness` when given: a daemon's, shared by all its runs)."""

    def __init__(self, settings: FetchSettings, politeness: Politeness | None = None,
                 admit: Callable[[], Awaitable[None]] | None = None) -> None:
        self.settings = settings
        self.admit = admit
        politeness = politeness or Politeness.for_settings(settings)
        self.resolver = Resolver()
        self.connections = HostConnections(settings, self.resolver.resolved)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.hosts = politeness.hosts
        self.robots = RobotsCache(settings.robots_token, politeness.robots)

    async def __aenter__(self) -> _Crawl:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.connections.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        started_at = _utc_now()
        budget = _Budget(self.settings)
        try:
            return await self._fetch(request, started_at, budget)
        except Exception as error:  # a bug must not take the rest of the cycle down with it
            log.exception("unexpected error fetching %s", request.source.url)
            failure = FetchFailure("network_error", f"unexpected error (please report): {describe_error(error)}")
            return _failed(request, failure, started_at, budget)

    async def _fetch(self, request: FetchRequest, started_at: dt.datetime, budget: _Budget) -> FetchResult:
        attempt = 0
        while True:
            budget.new_attempt()
            try:
                reply = await self._attempt(request, budget)
                return _succeeded(request, _classify(request, reply), started_at, budget)
            except FetchFailure as failure:
                wait = retry_wait(failure, attempt, self.settings)
                if wait is None or wait >= budget.overall_left():
                    return _failed(request, final_failure(failure, attempt, self.settings), started_at, budget)
                log.debug("retrying %s in %.2f s after %s", request.source.url, wait, failure.error)
                await asyncio.sleep(wait)
                attempt += 1

    async def _attempt(self, request: FetchRequest, budget: _Budget) -> Reply:
        source = request.source
        url = source.url
        policy = AddressPolicy.for_source(source)
        headers = _conditional_headers(request)
        for _hop in range(MAX_REDIRECTS + 1):
            await check_url(url, policy, self.resolver)
            if self.settings.respect_robots and source.respect_robots:
                await self._check_robots(url, policy)
            reply = await self.exchange(url, headers, budget, self.settings.max_bytes)
            location = reply.headers.get("location")
            if reply.status not in REDIRECT_STATUSES or not location:
                return reply
            url = _next_hop(reply, location)
        raise FetchFailure("http_error", f"more than {MAX_REDIRECTS} redirects (last to {url})",
                       status=reply.status, url=url, headers=reply.headers)

    async def _check_robots(self, url: str, policy: AddressPolicy) -> None:
        async def load(address: str) -> RobotsReply:
            return await self._load_robots(address, policy)

        if not await self.robots.allows(url, load):
            path = urlsplit(url).path or "/"
            raise FetchFailure("blocked", f"robots.txt of {urlsplit(url).netloc} disallows {path} "
                                      f"for {self.robots.token} (set respect_robots: false to override)", url=url)

    async def _load_robots(self, url: str, policy: AddressPolicy) -> RobotsReply:
        budget = _Budget(self.settings)
        for _hop in range(ROBOTS_MAX_REDIRECTS + 1):
            try:
                await check_url(url, policy, self.resolver)
                reply = await self.exchange(url, {}, budget, ROBOTS_MAX_BYTES, truncate=True)
                location = reply.headers.get("location")
                if reply.status not in REDIRECT_STATUSES or not location:
                    return RobotsReply(reply.status, reply.body)
                url = _next_hop(reply, location)
            except FetchFailure as failure:
                return RobotsReply(None, error=failure.error)
        return RobotsReply(None, error="too many redirects")

    async def exchange(self, url: str, headers: dict[str, str], budget: _Budget, max_bytes: int,
                       truncate: bool = False) -> Reply:
        """One GET inside the host's and the run's limits; the body is read only for a 2xx."""
        queued_at = time.monotonic()
        host = urlsplit(url).hostname or ""
        async with self.hosts.slot(host), self.slots:
            if self.admit is not None:  # the caller's back-pressure: its slot waits, so nothing more is read
                await self.admit()
            budget.queued += time.monotonic() - queued_at
            began = time.monotonic()
            limit = budget.limit()
            try:
                async with asyncio.timeout(limit):
                    return await self._send(url, host, headers, max_bytes, truncate)
            except TimeoutError:
                raise FetchFailure("timeout", f"no complete response within {limit:g} s (total_timeout)",
                               url=url) from None
            finally:
                budget.attempt_left -= time.monotonic() - began

    async def _send(self, url: str, host: str, headers: dict[str, str], max_bytes: int, truncate: bool) -> Reply:
        async with self.connections.get(url, host, headers) as answer:
            return await read_reply(answer, url, max_bytes, truncate)


# ---------------------------------------------------------------- requests and results

def _conditional_headers(request: FetchRequest) -> dict[str, str]:
    """The validators of a conditional GET, and the language a source pins."""
    headers = accept_language(request.source)
    if _can_send_back(request.etag):
        headers["If-None-Match"] = request.etag
    if _can_send_back(request.last_modified):
        headers["If-Modified-Since"] = request.last_modified
    return headers


def _can_send_back(validator: str | None) -> bool:
    """Whether a validator the server sent can go back to it as it came. One with bytes beyond ASCII (which
    RFC 9110 allows in an ETag) reaches us decoded as UTF-8 or Latin-1, and no longer matches once encoded
    again: it is left out, and the page is fetched in full."""
    return bool(validator) and unfit_for_a_header(validator) is None


def _next_hop(reply: Reply, location: str) -> str:
    try:
        parts = urlsplit(urljoin(reply.url, location.strip()))
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    except ValueError:
        raise FetchFailure("http_error", f"unreadable redirect location {location!r}", status=reply.status,
                       url=reply.url, headers=reply.headers, transient=False) from None


def _classify(request: FetchRequest, reply: Reply) -> Reply:
    """A usable reply (2xx, or 304 to a conditional GET) is returned; any other raises FetchFailure."""
    if 200 <= reply.status < 300 or (reply.status == 304 and (request.etag or request.last_modified)):
        return reply
    retry_after = parse_retry_after(reply.headers.get("retry-after")) if reply.status in _RETRY_AFTER_STATUSES else None
    outcome = "rate_limited" if reply.status == 429 else "http_error"
    raise FetchFailure(outcome, f"HTTP {reply.status} {reply.reason}".strip() + f" from {reply.url}",
                   status=reply.status, url=reply.url, headers=reply.headers, retry_after=retry_after)


def _succeeded(request: FetchRequest, reply: Reply, started_at: dt.datetime, budget: _Budget) -> FetchResult:
    unchanged = reply.status == 304
    return FetchResult(
        url=request.source.url,
        outcome=NOT_MODIFIED if unchanged else OK,
        started_at=started_at,
        elapsed_ms=_elapsed_ms(budget),
        body=b"" if unchanged else reply.body,
        http_status=reply.status,
        content_type=reply.headers.get("content-type"),
        final_url=reply.url,
        etag=reply.headers.get("etag") or (request.etag if unchanged else None),
        last_modified=reply.headers.get("last-modified") or (request.last_modified if unchanged else None),
        headers=_kept_headers(reply.headers),
    )


def _failed(request: FetchRequest, failure: FetchFailure, started_at: dt.datetime, budget: _Budget) -> FetchResult:
    headers = failure.headers or httpx.Headers()
    return FetchResult(
        url=request.source.url,
        outcome=failure.outcome,
        started_at=started_at,
        elapsed_ms=_elapsed_ms(budget),
        http_status=failure.status,
        content_type=headers.get("content-type"),
        final_url=failure.url,
        error=" ".join(failure.error.split()),
        headers=_kept_headers(headers),
    )


def _kept_headers(headers: httpx.Headers) -> dict[str, str]:
    present = dict(headers.items())  # one pass: each lookup in httpx.Headers scans them all
    return {name: present[name] for name in _KEPT_HEADERS if name in present}


def _elapsed_ms(budget: _Budget) -> int:
    return max(0, round(budget.spent() * 1000))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
