"""Fetch CPU per request, as `run --once` fetches with the defaults: N pages on 25 loopback hosts in; the client
process's CPU seconds per request out, for the shipped client setup and the alternatives it was chosen over.

    .venv/bin/python bench/fetch_cpu.py [--pages 500] [--delay 0.05] [--rounds 3] [--profile]

The server (bench/cycle_cli.py's: a nonce per answer, 50 ms late) runs in its own process, so the CPU read
with getrusage is the client's alone: the fetch stage only (no extraction, no database). Settings are
FetchSettings' defaults (concurrency 20, 2 per host, robots.txt on), as a cron run without tuning has them.
Variants change the client setup only:
- shipped: what monitor.fetch.http does (one AsyncClient per host, of `per_host` + 1 connections);
- pool-of-5: several AsyncClients of 5 connections each, leased by load (the setup before this bench);
- one-client: a single AsyncClient holding every connection.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cycle_cli import page_server, page_urls  # noqa: E402

from monitor.fetch import FetchRequest, FetchSettings, fetch_sources  # noqa: E402
from monitor.fetch import http  # noqa: E402
from monitor.sources import Source  # noqa: E402


def cpu_seconds() -> tuple[float, float]:
    """User and system CPU of this process so far. On loopback the kernel's system time includes delivering
    each packet to the server, so user time is the client's own work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


class _OneClient:
    """Every request through one AsyncClient of `concurrency` connections."""

    def __init__(self, settings: FetchSettings) -> None:
        self._client = http._new_client(settings, settings.concurrency)

    @contextlib.contextmanager
    def lease(self, host: str = ""):
        yield self._client

    async def aclose(self) -> None:
        await self._client.aclose()


_SHIPPED = http._HostClients


class _PoolOfFive:
    """Clients of 5 connections, as many as the concurrency needs; a host starts at its own and spills over."""

    def __init__(self, settings: FetchSettings) -> None:
        self._clients = [http._new_client(settings, 5) for _ in range(math.ceil(settings.concurrency / 5))]
        self._in_flight = [0] * len(self._clients)

    @contextlib.contextmanager
    def lease(self, host: str = ""):
        count = len(self._clients)
        home = hash(host) % count
        free = [index for index in ((home + step) % count for step in range(count)) if self._in_flight[index] < 5]
        index = free[0] if free else min(range(count), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            yield self._clients[index]
        finally:
            self._in_flight[index] -= 1

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


VARIANTS = {"shipped": None, "pool-of-5": _PoolOfFive, "one-client": _OneClient}


def one_round(urls: list[str], variant: str) -> tuple[float, tuple[float, float], Counter]:
    requests = [FetchRequest(Source(id=f"page-{index}", provider="Bench", title=f"Page {index}", url=url,
                                    allow_private=True)) for index, url in enumerate(urls)]
    settings = FetchSettings()
    original = _SHIPPED
    if VARIANTS[variant] is not None:
        http._HostClients = VARIANTS[variant]
    try:
        began, cpu = time.perf_counter(), cpu_seconds()
        results = asyncio.run(fetch_sources(requests, settings))
        user, system = (after - before for after, before in zip(cpu_seconds(), cpu))
        return time.perf_counter() - began, (user, system), Counter(result.outcome for result in results)
    finally:
        http._HostClients = original


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
        one_round(urls[:25], "shipped")  # warm imports, the SSL context and the resolver
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
            print(f"{variant:<11} client CPU per request: user median {statistics.median(user):.2f} ms "
                  f"(rounds {', '.join(f'{value:.2f}' for value in user)}), user+system "
                  f"{statistics.median(total):.2f} ms; wall median "
                  f"{statistics.median(wall for wall, _, _ in rounds):.2f} s; {dict(rounds[-1][2])}")


if __name__ == "__main__":
    main()
