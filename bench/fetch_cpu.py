"""Fetch CPU per request, as `run --once` fetches with the defaults: N pages on 25 loopback hosts in; the client
process's CPU seconds per request out, for the shipped crawl, the same crawl through httpx, and the floors.

    .venv/bin/python bench/fetch_cpu.py [--pages 500] [--delay 0.05] [--rounds 3] [--variants ...] [--profile]

The server (bench/cycle_cli.py's: a nonce per answer, 50 ms late) runs in its own process, so the CPU read
with getrusage is the client's alone: the fetch stage only (no extraction, no database). Settings are
FetchSettings' defaults (concurrency 20, 2 per host, robots.txt on), as a cron run without tuning has them.
Variants:
- shipped: `fetch_sources` as it is (an httpcore pool per host, of `per_host` + 1 connections);
- httpx-crawl: the same crawl, every check included, its exchanges through an httpx.AsyncClient per host
  (what was shipped before the crawl went to httpcore directly);
- httpx-shared: the same through httpx.AsyncClients of 5 connections shared by load (issue 14's baseline);
- httpx-alone, httpcore-alone, streams-alone: the floors, the same GETs with the same limits (20 in flight,
  2 per host, a client or pool per host) and nothing else: no address rule, robots.txt, budget, decoder or
  result; httpcore on its default network (anyio), and on the crawl's (monitor/fetch/streams.py).
Sources are made (and their URLs validated) before the CPU is read, as a run loads sources.yaml first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cycle_cli import page_server, page_urls  # noqa: E402

from monitor.fetch import FetchRequest, FetchSettings, fetch_sources  # noqa: E402
from monitor.fetch import connections, http, streams  # noqa: E402
from monitor.sources import Source  # noqa: E402

_HEADERS = {"User-Agent": FetchSettings().user_agent, "Accept": connections._ACCEPT.decode(),
            "Accept-Encoding": "gzip, deflate"}


def cpu_seconds() -> tuple[float, float]:
    """User and system CPU of this process so far. On loopback the kernel's system time includes delivering
    each packet to the server, so user time is the client's own work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _httpx_client(settings: FetchSettings, size: int | None = None) -> httpx.AsyncClient:
    """A client as the crawl made them before httpcore (monitor/fetch/http.py's `_new_client`), of `size`
    connections (by default `per_host` + 1, the client per host)."""
    connections_per_host = size or settings.per_host + 1
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                              write=settings.read_timeout, pool=settings.connect_timeout),
        limits=httpx.Limits(max_connections=connections_per_host, max_keepalive_connections=connections_per_host),
        headers=_HEADERS, verify=connections.ssl_context(), follow_redirects=False, trust_env=False)


@contextlib.asynccontextmanager
async def _exchange(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> AsyncIterator[connections.Answer]:
    response = await client.send(client.build_request("GET", url, headers=headers), stream=True)
    try:
        yield connections.Answer(response.status_code, response.reason_phrase, response.headers, response.aiter_raw())
    finally:
        await response.aclose()


class _HttpxConnections:
    """`connections.HostConnections`' interface through an httpx.AsyncClient per host (errors left unmapped)."""

    def __init__(self, settings: FetchSettings, resolved: object = None) -> None:  # httpx looks hosts up itself
        self._settings = settings
        self._clients: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def get(self, url: str, host: str, headers: dict[str, str]) -> AsyncIterator[connections.Answer]:
        client = self._clients.get(host) or self._clients.setdefault(host, _httpx_client(self._settings))
        async with _exchange(client, url, headers) as answer:
            yield answer

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


def fetch_requests(urls: list[str]) -> list[FetchRequest]:
    return [FetchRequest(Source(id=f"page-{index}", provider="Bench", title=f"Page {index}", url=url,
                                allow_private=True)) for index, url in enumerate(urls)]


class _HttpxSharedConnections(_HttpxConnections):
    """httpx.AsyncClients of 5 connections, as many as the concurrency needs, leased by load: a host starts at its
    own and spills over (the issue's baseline, before the client per host)."""

    def __init__(self, settings: FetchSettings, resolved: object = None) -> None:
        super().__init__(settings)
        count = math.ceil(settings.concurrency / 5)
        self._shared = [_httpx_client(settings, 5) for _ in range(count)]
        self._clients = dict(enumerate(self._shared))  # closed by aclose
        self._in_flight = [0] * count

    @contextlib.asynccontextmanager
    async def get(self, url: str, host: str, headers: dict[str, str]) -> AsyncIterator[connections.Answer]:
        count = len(self._shared)
        home = hash(host) % count
        free = [index for index in ((home + step) % count for step in range(count)) if self._in_flight[index] < 5]
        index = free[0] if free else min(range(count), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            async with _exchange(self._shared[index], url, headers) as answer:
                yield answer
        finally:
            self._in_flight[index] -= 1


async def _crawl(requests: list[FetchRequest], connections_class: type | None) -> Counter:
    shipped = http.HostConnections
    if connections_class is not None:
        http.HostConnections = connections_class
    try:
        return Counter(result.outcome for result in await fetch_sources(requests, FetchSettings()))
    finally:
        http.HostConnections = shipped


async def _alone(requests: list[FetchRequest], get_body: Callable[[str, str], object]) -> Counter:
    """Every URL fetched with the crawl's limits (20 in flight, 2 per host) and nothing else."""
    settings = FetchSettings()
    slots = asyncio.Semaphore(settings.concurrency)
    host_slots: dict[str, asyncio.Semaphore] = {}
    outcomes: Counter = Counter()

    async def one(url: str) -> None:
        host = urlsplit(url).hostname or ""
        async with host_slots.setdefault(host, asyncio.Semaphore(settings.per_host)), slots:
            outcomes[await get_body(url, host)] += 1

    async with asyncio.TaskGroup() as group:
        for request in requests:
            group.create_task(one(request.source.url))
    return outcomes


async def _httpx_alone(requests: list[FetchRequest]) -> Counter:
    clients: dict[str, httpx.AsyncClient] = {}

    async def get_body(url: str, host: str) -> int:
        client = clients.get(host) or clients.setdefault(host, _httpx_client(FetchSettings()))
        async with client.stream("GET", url) as response:
            async for _chunk in response.aiter_raw():
                pass
            return response.status_code

    try:
        return await _alone(requests, get_body)
    finally:
        for client in clients.values():
            await client.aclose()


async def _httpcore_alone(requests: list[FetchRequest], network: httpcore.AsyncNetworkBackend | None = None) -> Counter:
    pools: dict[str, httpcore.AsyncConnectionPool] = {}
    headers = list(_HEADERS.items())

    async def get_body(url: str, host: str) -> int:
        size = FetchSettings().per_host + 1
        pool = pools.get(host) or pools.setdefault(host, httpcore.AsyncConnectionPool(
            ssl_context=connections.ssl_context(), max_connections=size, max_keepalive_connections=size,
            network_backend=network))
        async with pool.stream("GET", url, headers=headers) as response:
            async for _chunk in response.aiter_stream():
                pass
            return response.status

    try:
        return await _alone(requests, get_body)
    finally:
        for pool in pools.values():
            await pool.aclose()


VARIANTS = {
    "shipped": lambda requests: _crawl(requests, None),
    "httpx-crawl": lambda requests: _crawl(requests, _HttpxConnections),
    "httpx-shared": lambda requests: _crawl(requests, _HttpxSharedConnections),
    "httpx-alone": _httpx_alone,
    "httpcore-alone": _httpcore_alone,
    "streams-alone": lambda requests: _httpcore_alone(requests, streams.AsyncioBackend()),
}


def one_round(urls: list[str], variant: str) -> tuple[float, tuple[float, float], Counter]:
    requests = fetch_requests(urls)  # validating the sources is not the fetch's work
    began, cpu = time.perf_counter(), cpu_seconds()
    outcomes = asyncio.run(VARIANTS[variant](requests))
    user, system = (after - before for after, before in zip(cpu_seconds(), cpu))
    return time.perf_counter() - began, (user, system), outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--profile", action="store_true", help="pyinstrument one round of the shipped setup")
    args = parser.parse_args()
    with page_server(args.pages, args.delay) as (ports, _):
        urls = page_urls(ports, args.pages)
        for variant in VARIANTS:  # warm imports, the SSL context and the resolver
            one_round(urls[:25], variant)
        if args.profile:
            from pyinstrument import Profiler

            with Profiler() as profiler:
                one_round(urls, "shipped")
            print(profiler.output_text(unicode=True, color=False, show_all=False))
            return
        for variant in args.variants.split(","):
            rounds = [one_round(urls, variant) for _ in range(args.rounds)]
            user = [cpu[0] / args.pages * 1000 for _, cpu, _ in rounds]
            total = [sum(cpu) / args.pages * 1000 for _, cpu, _ in rounds]
            print(f"{variant:<15} client CPU per request: user median {statistics.median(user):.2f} ms "
                  f"(rounds {', '.join(f'{value:.2f}' for value in user)}), user+system "
                  f"{statistics.median(total):.2f} ms; wall median "
                  f"{statistics.median(wall for wall, _, _ in rounds):.2f} s; {dict(rounds[-1][2])}")


if __name__ == "__main__":
    main()
