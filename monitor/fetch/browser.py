"""Browser fetch: `FetchRequest`s of script-built pages in, rendered-HTML `FetchResult`s out.

Playwright drives the system Chromium (Debian package `chromium`); nothing is downloaded.

Every request the page makes (the navigation, each redirect hop, scripts, images, frames, fetch() calls)
passes the HTTP fetcher's address rule (`check_url`) before it goes out: Playwright intercepts it, a refused
one is aborted, an allowed one is made hop by hop by the route handler (each hop checked) and its final
response handed to Chromium. Chromium's own network is pointed at a proxy that does
not exist, so whatever might slip past interception (WebSockets, preconnects) cannot connect anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin

from monitor.fetch import OK, FetchResult
from monitor.fetch.addresses import AddressPolicy, Resolver, check_url
from monitor.fetch.failure import FetchFailure
from monitor.fetch.http import MAX_REDIRECTS, REDIRECT_STATUSES, accept_language
from monitor.fetch.politeness import Politeness
from monitor.fetch.registry import Admit, Fetcher, ResultCallback
from monitor.fetch.settings import FetchRequest, FetchSettings
from monitor.settings import load_settings, variable

log = logging.getLogger(__name__)

CHROMIUM_ENV = variable("chromium")
# Without the background-networking switches Chromium phones home at start; on a closed network
# those connections fail, many at a time.
# Requests are made by Playwright after the address check and handed to Chromium (see _RequestGuard), so
# Chromium itself needs no network: its proxy is a closed local port, loopback included (`<-loopback>`),
# and what escapes interception fails to connect instead of reaching a private address.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--dns-prefetch-disable", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
# Browser pages are heavy: a few at a time, whatever the HTTP concurrency.
BROWSER_PAGES_AT_ONCE = 2


def chromium_path() -> str | None:
    """The Chromium to drive: $CLAUSEWATCH_CHROMIUM, else `chromium` on the PATH."""
    return load_settings().chromium_binary()


def missing_browser_part(executable: str | None) -> str | None:
    """What keeps browser sources from being fetched, in words (the Python package, or Chromium), or None."""
    if importlib.util.find_spec("playwright") is None:
        return "no browser: the Python package `playwright` is not installed (pip install 'clausewatch[browser]')"
    if executable is None:
        return f"no browser: Chromium not found (install the Debian package `chromium`, or set {CHROMIUM_ENV})"
    if not os.access(executable, os.X_OK):
        return f"no browser: {CHROMIUM_ENV}={executable} is not an executable file"
    return None


async def fetch_with_browser(requests: Sequence[FetchRequest], settings: FetchSettings,
                             on_result: Callable[[FetchRequest, FetchResult], None] | None = None
                             ) -> list[FetchResult]:
    """Render each page in headless Chromium and return its HTML after scripts ran."""
    if not requests:
        return []
    executable = chromium_path()
    error = missing_browser_part(executable)
    if error:
        results = [_failure(request, "network_error", error, _now(), time.monotonic()) for request in requests]
        for request, result in zip(requests, results):
            if on_result:
                on_result(request, result)
        return results

    # the browser extra: only `fetcher: browser` sources need it
    from playwright.async_api import async_playwright

    gate = asyncio.Semaphore(BROWSER_PAGES_AT_ONCE)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True,
                                                   args=list(CHROMIUM_ARGS))
        try:
            async def one(request: FetchRequest) -> FetchResult:
                async with gate:
                    result = await _render(browser, request, settings)
                if on_result:
                    on_result(request, result)
                return result

            return list(await asyncio.gather(*(one(request) for request in requests)))
        finally:
            await browser.close()


class BrowserFetcher(Fetcher):
    """Headless Chromium, for pages that scripts build (`fetcher: browser`); a few pages at a time, whatever
    the HTTP limits (so `politeness` and `admit` are not used)."""

    kind = "browser"

    async def fetch(self, requests: Sequence[FetchRequest], settings: FetchSettings, on_result: ResultCallback, *,
                    politeness: Politeness | None = None, admit: Admit | None = None) -> None:
        await fetch_with_browser(requests, settings, on_result)


class _RequestGuard:
    """Playwright's route handler for one page: the address rule on every request and every redirect hop.

    Chromium does not show a route handler the redirects it follows, so the handler makes each request
    itself without following redirects (Playwright's API client, which shares the page's cookies), checks
    every hop, and hands Chromium the final response.
    """

    def __init__(self, request: FetchRequest, settings: FetchSettings) -> None:
        self.policy = AddressPolicy.for_source(request.source)
        self.resolver = Resolver()
        self.timeout_ms = settings.total_timeout * 1000
        self.max_bytes = settings.max_bytes
        self.page_refusal: FetchFailure | None = None  # why the page itself (a main-frame navigation) was refused
        self.page_url: str | None = None  # where the page's navigation ended, after its redirects
        self.refused: list[str] = []

    async def handle(self, route: Any) -> None:
        request = route.request
        is_page = request.is_navigation_request() and request.frame.parent_frame is None
        url, method = request.url, request.method
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                await check_url(url, self.policy, self.resolver)
            except FetchFailure as refusal:
                self.refused.append(url)
                if is_page:
                    self.page_refusal = refusal
                log.info("browser request refused: %s", refusal.error)
                await route.abort("blockedbyclient")
                return
            response = await self._send(route, url, method)
            if response is None:
                await route.abort("failed")
                return
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                if is_page:
                    self.page_url = url
                await route.fulfill(response=response)
                return
            url = urljoin(url, location)
            method = "GET" if response.status == 303 else method
        await route.abort("failed")  # too many redirects

    async def _send(self, route: Any, url: str, method: str) -> Any:
        request = route.request
        try:
            response = await route.request.frame.page.context.request.fetch(
                url, method=method, headers=request.headers, data=request.post_data_buffer,
                max_redirects=0, timeout=self.timeout_ms, fail_on_status_code=False)
        except Exception as error:  # Playwright raises its own error types for network failures
            log.debug("browser request failed: %s: %s", url, error)
            return None
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            log.info("browser request refused: %s is %s bytes, over max_bytes", url, length)
            return None
        return response

    @staticmethod
    async def refuse_socket(socket: Any) -> None:
        await socket.close(code=1008, reason="WebSockets are not allowed to monitored pages")


async def _render(browser, request: FetchRequest, settings: FetchSettings) -> FetchResult:  # type: ignore[no-untyped-def]
    started_at, clock = _now(), time.monotonic()
    guard = _RequestGuard(request, settings)
    try:
        await check_url(request.source.url, guard.policy, guard.resolver)
    except FetchFailure as refusal:
        return _failure(request, refusal.outcome, refusal.error, started_at, clock)
    context = await browser.new_context(user_agent=settings.user_agent, service_workers="block",
                                        extra_http_headers=accept_language(request.source))
    try:
        await context.route("**/*", guard.handle)
        await context.route_web_socket("**/*", guard.refuse_socket)
        page = await context.new_page()
        try:
            response = await page.goto(request.source.url, wait_until="networkidle",
                                       timeout=settings.total_timeout * 1000)
        except Exception:
            if guard.page_refusal is not None:
                return _failure(request, "blocked", guard.page_refusal.error, started_at, clock)
            raise
        if guard.page_refusal is not None:  # a script or meta refresh navigated the page somewhere refused
            return _failure(request, "blocked", guard.page_refusal.error, started_at, clock)
        status = response.status if response else None
        if status is not None and status >= 400:
            outcome = "rate_limited" if status == 429 else "http_error"
            return _failure(request, outcome, f"HTTP {status}", started_at, clock, status)
        body = (await page.content()).encode("utf-8")
        if len(body) > settings.max_bytes:
            return _failure(request, "too_large", f"rendered page is {len(body)} bytes", started_at, clock, status)
        return FetchResult(url=request.source.url, outcome=OK, started_at=started_at,
                           elapsed_ms=_elapsed(clock), body=body, http_status=status,
                           content_type="text/html; charset=utf-8", final_url=guard.page_url or page.url)
    except Exception as error:  # Playwright raises its own error types for timeouts and network failures
        outcome = "timeout" if "Timeout" in type(error).__name__ else "network_error"
        return _failure(request, outcome, " ".join(str(error).split())[:300], started_at, clock)
    finally:
        await context.close()


def _failure(request: FetchRequest, outcome: str, error: str, started_at: dt.datetime, clock: float,
             status: int | None = None) -> FetchResult:
    return FetchResult(url=request.source.url, outcome=outcome, started_at=started_at, elapsed_ms=_elapsed(clock),
                       http_status=status, error=error)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _elapsed(clock: float) -> int:
    return int((time.monotonic() - clock) * 1000)
