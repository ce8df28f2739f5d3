"""History-site speed: the whole corpus imported, every kind of page requested, milliseconds per page out.

    .venv/bin/python bench/web_speed.py [--db URL] [--rounds 3] [--http]

Without --db it imports ../shared/corpus/genai-eu and ../shared/corpus/licenses-lineage into a temporary
SQLite file first (about 25 s). Pages are requested in-process through Starlette's test client (the app's
whole path: routing, queries, rendering; no socket) after the app's start-up warm-up, or with --http through a
real `clausewatch serve` on 127.0.0.1. For every page kind it prints the first request of each URL (cold: the
page's own data not cached yet) and the later rounds (warm), as median, 95th percentile and maximum, and
flags anything over the 200 ms target. Diffs of two far-apart versions of a rewritten document answer within
the budget with a paragraph-level diff while the word diff is computed in the background; the line
`diffs shown paragraph-level on first request` counts them.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TARGET_MS = 200.0


def build_database(folder: str) -> str:
    from click.testing import CliRunner

    from monitor.cli import cli

    url = f"sqlite:///{folder}/web.db"
    for dataset in ("genai-eu", "licenses-lineage"):
        done = CliRunner().invoke(cli, ["--db", url, "import", str(CORPUS / dataset)])
        if done.exit_code:
            raise SystemExit(done.output)
        print(done.output.strip().splitlines()[-1])
    return url


def page_urls(get: Any) -> list[tuple[str, str]]:
    """(kind, url) of every page worth timing, found through the JSON API like a crawler would."""
    urls: list[tuple[str, str]] = [("home", "/"), ("matrix", "/matrix"), ("matrix as of", "/matrix?at=2026-01-01"),
                                   ("trends", "/trends"), ("search", "/search?q=compet"),
                                   ("search filtered", "/search?q=model&category=output_training&direction=tightened"),
                                   ("search history", "/search?q=train&history=1"),
                                   ("feed", "/feeds/all.atom"), ("api", "/api/matrix")]
    home = get("/api/").json()
    for group in home["providers"]:
        for source in group["sources"]:
            sid = source["id"]
            page = get(f"/api/sources/{sid}").json()
            timeline = sorted(page["timeline"], key=lambda v: v["seq"])
            urls += [("document", f"/sources/{sid}"), ("feed", f"/feeds/{sid}.atom"),
                     ("api", f"/api/sources/{sid}")]
            for version in timeline:
                urls.append(("version", f"/sources/{sid}/versions/{version['seq']}"))
            if timeline:
                urls.append(("as of", f"/sources/{sid}/as-of/{timeline[len(timeline) // 2]['observed_at'][:10]}"))
            for older, newer in zip(timeline, timeline[1:]):
                urls.append(("diff (consecutive)", f"/sources/{sid}/diff/{older['seq']}..{newer['seq']}"))
            if len(timeline) > 2:
                urls.append(("diff (first..last)", f"/sources/{sid}/diff/1..{timeline[-1]['seq']}"))
            for clause in page["clauses"]:
                urls.append(("clause", f"/sources/{sid}/clauses/{clause['key']}"))
            for version in timeline:
                for event in version["events"]:
                    urls.append(("clause", f"/sources/{sid}/clauses/{event['key']}"))
    seen: set[str] = set()
    return [(kind, url) for kind, url in urls if not (url in seen or seen.add(url))]


def measure(get: Any, rounds: int) -> None:
    urls = page_urls(get)
    cold: dict[str, list[float]] = defaultdict(list)
    warm: dict[str, list[float]] = defaultdict(list)
    coarse = 0
    for round_number in range(rounds):
        for kind, url in urls:
            started = time.perf_counter()
            response = get(url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
            (cold if round_number == 0 else warm)[kind].append(elapsed)
            if round_number == 0 and "Shown paragraph by paragraph" in response.text:
                coarse += 1
        if round_number == 0:
            time.sleep(2)  # let background word diffs land, as between two visitors
    print(f"{len(urls)} URLs, {rounds} rounds (round 1 = first request of each URL)")
    print(f"{'page':22} {'n':>4} | {'first: median':>13} {'p95':>7} {'max':>7} | {'later: median':>13} "
          f"{'p95':>7} {'max':>7}")
    worst = 0.0
    for kind in dict.fromkeys(kind for kind, _ in urls):
        first, later = sorted(cold[kind]), sorted(warm[kind])
        row = f"{kind:22} {len(first):>4} | {_stats(first)}"
        row += f" | {_stats(later)}" if later else ""
        worst = max([worst] + first + later)
        print(row)
    print(f"diffs shown paragraph-level on first request: {coarse}")
    print(f"slowest request: {worst:.1f} ms — {'within' if worst < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")


def _stats(values: list[float]) -> str:
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"{statistics.median(values):>10.1f} ms {p95:>7.1f} {max(values):>7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an already imported database (default: import the corpus into a temp file)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http", action="store_true", help="through a real `clausewatch serve` on 127.0.0.1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or build_database(folder)
        if args.http:
            _over_http(url, args.rounds)
        else:
            _in_process(url, args.rounds)


def _in_process(url: str, rounds: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from monitor.store import connect
    from monitor.web import create_app

    started = time.perf_counter()
    with TestClient(create_app(connect(url))) as client:
        print(f"app start-up with warm-up: {(time.perf_counter() - started) * 1000:.0f} ms")
        measure(client.get, rounds)


def _over_http(url: str, rounds: int) -> None:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", url, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            started = time.perf_counter()
            while True:
                try:
                    client.get("/api/")
                    break
                except httpx.TransportError:
                    if time.perf_counter() - started > 60:
                        raise
                    time.sleep(0.1)
            print(f"server up after {(time.perf_counter() - started) * 1000:.0f} ms")
            measure(client.get, rounds)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
