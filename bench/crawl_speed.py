"""Crawl speed: N local pages (real terms text, delayed responses) in, cycle times and peak RSS out.

    .venv/bin/python bench/crawl_speed.py [--pages 500] [--delay 0.05] [--concurrency 50] [--cycles 5]

The server runs in its own process (asyncio, keep-alive, ETag / 304), so the figures
measure the fetch stage, not a server sharing its interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import multiprocessing
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from monitor.fetch import FetchRequest, FetchResult, FetchSettings, fetch_sources
from monitor.sources import Source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "genai-eu"
PAGE_BYTES = 46 * 1024
MIN_TERMS_CHARACTERS = 2000


def build_pages(count: int) -> list[bytes]:
    """`count` HTML pages of about PAGE_BYTES, each wrapping a real terms text from the corpus."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.rglob("*.md"))]
    # The archive also recorded error pages ("This page isn't available") and redirect stubs; pages are terms.
    texts = [text for text in texts if len(text) >= MIN_TERMS_CHARACTERS and "This page isn" not in text]
    if not texts:
        raise SystemExit(f"no corpus at {CORPUS}")
    pages = []
    for index in range(count):
        text = texts[index % len(texts)]
        while len(text) < PAGE_BYTES:
            text += "\n\n" + text
        head = f"<!doctype html><html><head><title>Terms {index}</title></head><body><main>"
        body = render_blocks(text[:PAGE_BYTES - len(head) - 32])
        pages.append((head + body + "</main></body></html>").encode("utf-8"))
    return pages


def render_blocks(markdown: str) -> str:
    """Markdown-ish text as HTML blocks (headings, list items, paragraphs), as a terms page has them."""
    out = []
    for block in markdown.split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#"):
            out.append(f"<h2>{html.escape(block.lstrip('#').strip())}</h2>")
        elif block[:2] in ("- ", "* "):
            items = "".join(f"<li>{html.escape(line[2:].strip())}</li>" for line in block.splitlines()
                            if line[:2] in ("- ", "* "))
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{html.escape(' '.join(block.split()))}</p>")
    return "\n".join(out)


# ---------------------------------------------------------------- server (own process)

def serve(port_queue: multiprocessing.Queue, count: int, delay: float) -> None:
    asyncio.run(_serve(port_queue, build_pages(count), delay))


@contextlib.contextmanager
def page_server(count: int, delay: float, target: Callable[..., None] = serve) -> Iterator[int]:
    """A benchmark server (`target(port_queue, count, delay)`) in its own process; yields its port."""
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=target, args=(ports, count, delay), daemon=True)
    server.start()
    try:
        yield ports.get(timeout=60)
    finally:
        server.terminate()
        server.join()


async def _serve(port_queue: multiprocessing.Queue, pages: list[bytes], delay: float) -> None:
    tags = [f'"{hashlib.sha1(page).hexdigest()[:16]}"' for page in pages]

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path, headers = _parse_head(head)
                index = int(path.rsplit("/", 1)[-1]) if path.rsplit("/", 1)[-1].isdigit() else -1
                await asyncio.sleep(delay)
                writer.write(_response(pages, tags, index, headers))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(respond, "127.0.0.1", 0, backlog=1024)
    port_queue.put(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0].split(" ")[1], headers


def _response(pages: list[bytes], tags: list[str], index: int, headers: dict[str, str]) -> bytes:
    if not 0 <= index < len(pages):
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    if headers.get("if-none-match") == tags[index]:
        return f"HTTP/1.1 304 Not Modified\r\nETag: {tags[index]}\r\nContent-Length: 0\r\n\r\n".encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nETag: {tags[index]}\r\n"
            f"Content-Length: {len(pages[index])}\r\n\r\n")
    return head.encode() + pages[index]


# ---------------------------------------------------------------- client

class Cycles:
    """Timings of repeated cycles of one kind, and what the last one fetched."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.summary = ""

    def run(self, requests: list[FetchRequest], settings: FetchSettings) -> list[FetchResult]:
        began, cpu = time.perf_counter(), time.process_time()
        results = asyncio.run(fetch_sources(requests, settings))
        self.walls.append(time.perf_counter() - began)
        self.cpus.append(time.process_time() - cpu)
        megabytes = sum(len(result.body) for result in results) / 1e6
        self.summary = f"{megabytes:.1f} MB  {dict(Counter(result.outcome for result in results))}"
        return results

    def report(self) -> None:
        wall = statistics.median(self.walls)
        print(f"{self.name:<12} median {wall:.3f} s  best {min(self.walls):.3f} s  ({len(self.walls)} cycles, "
              f"client CPU {statistics.median(self.cpus):.3f} s)  {self.summary}")
        print(f"{'':<12} every cycle: {' '.join(f'{each:.3f}' for each in self.walls)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="server delay per response, seconds")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=5, help="cycles of each kind")
    args = parser.parse_args()

    with page_server(args.pages, args.delay) as port:
        measure(port, args)


def measure(port: int, args: argparse.Namespace) -> None:
    # One host, so per-host politeness is opened up to the whole concurrency.
    settings = FetchSettings(concurrency=args.concurrency, per_host=args.concurrency, respect_robots=False)
    sources = [Source(id=f"page-{index}", provider="Bench", title=f"Page {index}",
                      url=f"http://127.0.0.1:{port}/page/{index}", allow_private=True, respect_robots=False)
               for index in range(args.pages)]
    plain = [FetchRequest(source) for source in sources]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.pages} pages of ~{PAGE_BYTES // 1024} KB, {args.delay * 1000:g} ms server delay, "
          f"concurrency {args.concurrency}, {args.cycles} cycles each, interleaved")
    first, again = Cycles("first"), Cycles("conditional")
    # Interleaved, so both kinds see the same load from anything else on the machine.
    for _ in range(args.cycles):
        etags = [result.etag for result in first.run(plain, settings)]
        again.run([FetchRequest(source, etag=etag) for source, etag in zip(sources, etags)], settings)
    first.report()
    again.report()
    floor = args.pages / args.concurrency * args.delay
    print(f"floor set by the server delay: {floor:.3f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (client process): {peak:.0f} MB ({baseline:.0f} MB before the first cycle)")


if __name__ == "__main__":
    main()
