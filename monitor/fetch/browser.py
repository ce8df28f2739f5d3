"""Browser fetch: `FetchRequest`s of script-built pages in, rendered-HTML `FetchResult`s out.

Playwright drives the system Chromium (Debian package `chromium`); nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import shutil
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from monitor.fetch import OK, FetchResult
from monitor.fetch.http import address_refusal
from monitor.fetch.settings import FetchRequest, FetchSettings

CHROMIUM_ENV = "CLAUSEWATCH_CHROMIUM"
# Without the background-networking switches Chromium phones home at start; on a closed network
# those connections fail, many at a time.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Browser pages are heavy: a few at a time, whatever the HTTP concurrency.
BROWSER_PAGES_AT_ONCE = 2


def chromium_path() -> str | None:
    """The Chromium to drive: $CLAUSEWATCH_CHROMIUM, else `chromium` on the PATH."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


async def fetch_with_browser(requests: Sequence[FetchRequest], settings: FetchSettings,
                             on_result: Callable[[FetchRequest, FetchResult], None] | None = None
                             ) -> list[FetchResult]:
    """Render each page in headless Chromium and return its HTML after scripts ran."""
    if not requests:
        return []
    executable = chromium_path()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        executable = None
    if executable is None:
        error = ("no browser: install the Debian package `chromium` and the Python package `playwright`, "
                 f"or set {CHROMIUM_ENV}")
        results = [_failure(request, "network_error", error, _now(), time.monotonic()) for request in requests]
        for request, result in zip(requests, results):
            if on_result:
                on_result(request, result)
        return results

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


async def _render(browser, request: FetchRequest, settings: FetchSettings) -> FetchResult:  # type: ignore[no-untyped-def]
    started_at, clock = _now(), time.monotonic()
    refusal = await _refused(request)
    if refusal:
        return _failure(request, "blocked", refusal, started_at, clock)
    context = await browser.new_context(user_agent=settings.user_agent)
    try:
        page = await context.new_page()
        response = await page.goto(request.source.url, wait_until="networkidle",
                                   timeout=settings.total_timeout * 1000)
        status = response.status if response else None
        if status is not None and status >= 400:
            outcome = "rate_limited" if status == 429 else "http_error"
            return _failure(request, outcome, f"HTTP {status}", started_at, clock, status)
        body = (await page.content()).encode("utf-8")
        if len(body) > settings.max_bytes:
            return _failure(request, "too_large", f"rendered page is {len(body)} bytes", started_at, clock, status)
        return FetchResult(url=request.source.url, outcome=OK, started_at=started_at,
                           elapsed_ms=_elapsed(clock), body=body, http_status=status,
                           content_type="text/html; charset=utf-8", final_url=page.url)
    except Exception as error:  # Playwright raises its own error types for timeouts and network failures
        outcome = "timeout" if "Timeout" in type(error).__name__ else "network_error"
        return _failure(request, outcome, " ".join(str(error).split())[:300], started_at, clock)
    finally:
        await context.close()


async def _refused(request: FetchRequest) -> str | None:
    """The same address rule as the HTTP fetcher, for the page itself."""
    parts = urlsplit(request.source.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"refused URL {request.source.url!r}: only http and https"
    if request.source.allow_private:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError as error:
        return f"cannot resolve {parts.hostname}: {error}"
    for info in infos:
        kind = address_refusal(ipaddress.ip_address(info[4][0]))
        if kind:
            return f"refused {parts.hostname}: {kind} address (set allow_private: true to allow)"
    return None


def _failure(request: FetchRequest, outcome: str, error: str, started_at: dt.datetime, clock: float,
             status: int | None = None) -> FetchResult:
    return FetchResult(url=request.source.url, outcome=outcome, started_at=started_at, elapsed_ms=_elapsed(clock),
                       http_status=status, error=error)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _elapsed(clock: float) -> int:
    return int((time.monotonic() - clock) * 1000)
