"""`serve` under load: the corpus imported, a real `clausewatch serve` on 127.0.0.1, N requests at C concurrent.

    .venv/bin/python bench/serve_load.py [--db URL] [--requests 2000] [--concurrency 50]

Without --db it imports ../shared/corpus/genai-eu and ../shared/corpus/licenses-lineage into a temporary
SQLite file first (as bench/web_speed.py does). The requests cycle through every kind of page (found through
the JSON API: documents, versions, clauses, diffs, feeds, search, matrix, trends, raw snapshots), all to
127.0.0.1 only, bounded in count, and the run stops by itself. It prints errors (transport errors and 5xx),
latency p50/p99/max, throughput, and the server's resident memory (VmRSS) after start-up and after the
load, against issue 18's target: no errors, p99 under 1 s, RSS under 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_speed import build_database, page_urls  # noqa: E402

TARGET_P99_S = 1.0
TARGET_RSS_MB = 200.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str, timeout: float = 120, server: subprocess.Popen | None = None,
                  log: Any = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:  # say why (a schema to upgrade: `init`)
            log.seek(0)
            raise SystemExit(f"serve exited: {log.read().decode().strip()}")
        try:
            httpx.get(base + "/healthz", timeout=5)  # any answer (503 too: nothing fetched lately) means up
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"serve did not answer on {base} within {timeout:g} s")


async def load(base: str, paths: list[str], requests: int, concurrency: int, client: str = "raw"
               ) -> tuple[list[tuple[float, str]], list[str]]:
    """(seconds, path) of every request, and the errors; `client` "raw" (one keep-alive connection per worker,
    HTTP/1.1 by hand) or "httpx" (httpx.AsyncClient, which costs the load about 3 ms of CPU per request)."""
    latencies: list[tuple[float, str]] = []
    errors: list[str] = []
    queue = iter(range(requests))
    fetch = _httpx_fetcher(base, concurrency) if client == "httpx" else _raw_fetcher(base)

    async def worker() -> None:
        async with fetch() as get:
            for number in queue:
                path = paths[number % len(paths)]
                began = time.perf_counter()
                try:
                    status = await get(path)
                    if status >= 500:
                        errors.append(f"{status} {path}")
                except (OSError, ValueError, asyncio.IncompleteReadError) as error:
                    errors.append(f"{type(error).__name__} {path}")
                latencies.append((time.perf_counter() - began, path))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _httpx_fetcher(base: str, concurrency: int):  # type: ignore[no-untyped-def]
    import contextlib

    import httpx

    shared = httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency))

    @contextlib.asynccontextmanager
    async def fetcher():  # type: ignore[no-untyped-def]
        async def get(path: str) -> int:
            try:
                response = await shared.get(path)
                await response.aread()
            except httpx.HTTPError as error:
                raise OSError(type(error).__name__) from error
            return response.status_code
        yield get
    return fetcher


def _raw_fetcher(base: str):  # type: ignore[no-untyped-def]
    """A minimal HTTP/1.1 client: GET, Content-Length bodies, keep-alive, reconnect when the server closes."""
    import contextlib
    from urllib.parse import urlsplit

    host, port = urlsplit(base).hostname, urlsplit(base).port

    @contextlib.asynccontextmanager
    async def fetcher():  # type: ignore[no-untyped-def]
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

        async def get(path: str) -> int:
            if not streams:
                streams.append(await asyncio.open_connection(host, port))
            reader, writer = streams[0]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
                await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", 0))), 60)
            except BaseException:
                writer.close()
                streams.clear()
                raise
            if headers.get("connection") == "close":
                writer.close()
                streams.clear()
            return status
        try:
            yield get
        finally:
            for _reader, writer in streams:
                writer.close()
    return fetcher


def snapshot_paths(get) -> list[str]:  # type: ignore[no-untyped-def]
    paths = []
    for group in get("/api/").json()["providers"]:
        for source in group["sources"][:3]:
            paths.append(f"/sources/{source['id']}/versions/1/snapshot")
    return paths


def run(url: str, requests: int, concurrency: int, client: str = "raw") -> None:
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # the server's stderr, shown if it does not start
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", url, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_until_up(base, server=server, log=log)
        with httpx.Client(base_url=base, timeout=60) as client:
            paths = [path for _kind, path in page_urls(client.get)] + snapshot_paths(client.get)
        before = rss_mb(server.pid)
        started = time.perf_counter()
        timed, errors = asyncio.run(load(base, paths, requests, concurrency, client))
        elapsed = time.perf_counter() - started
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    slowest = sorted(timed, reverse=True)[:5]
    latencies = sorted(seconds for seconds, _path in timed)
    p50, p99 = statistics.median(latencies), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{len(latencies)} requests over {len(paths)} distinct pages at {concurrency} concurrent in {elapsed:.1f} s "
          f"({len(latencies) / elapsed:.0f}/s)")
    print(f"errors {len(errors)}" + (f" (first: {', '.join(errors[:5])})" if errors else ""))
    print(f"latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
          f"{'' if p99 < TARGET_P99_S else f'  OVER the {TARGET_P99_S:g} s target'}")
    print("slowest: " + ", ".join(f"{path} {seconds * 1000:.0f} ms" for seconds, path in slowest))
    print(f"serve RSS {before:.0f} MB after start-up, {after:.0f} MB after the load"
          f"{'' if after < TARGET_RSS_MB else f'  OVER the {TARGET_RSS_MB:g} MB target'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an already imported database (default: import the corpus into a temp file)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="the load's HTTP client (httpx needs about 3 ms of CPU per request, on the same cores)")
    args = parser.parse_args()
    if args.db:
        run(args.db, args.requests, args.concurrency, args.client)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(build_database(folder), args.requests, args.concurrency, args.client)


if __name__ == "__main__":
    main()
