"""Worker scale-out: N `clausewatch worker` processes on one PostgreSQL database in; cycle times and database growth
per unchanged cycle out.

    .venv/bin/python bench/worker_scale.py [--sources 5000] [--delay 0.05] [--workers 1,2,4] [--cycles 2]

A local server (its own process, asyncio, keep-alive, ETag / 304, as in crawl_speed.py) serves `--sources` small
terms pages (about 3 KB, each different) after `--delay` seconds. For each worker count, a fresh database: the
first cycle records every page (a new version each), then each unchanged cycle (all sources made due at once;
every answer a 304) should add one fetch_attempt row per source and nothing else. All sources share one host,
so the per-host limit is raised to the concurrency (real sources are spread over many hosts).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import yaml
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_speed import _serve, page_server  # noqa: E402 (the benchmark server: asyncio, keep-alive, ETag / 304)

from monitor.store import connect, init_database  # noqa: E402
from monitor.store.leases import make_due, pending_sources  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("CLAUSEWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("fetch_attempt", "snapshot", "version", "clause", "change_event", "source", "source_schedule")

PAGE = """<!doctype html><html><head><title>Terms {n}</title></head><body><nav>Home | Pricing</nav><main>
<h1>Terms of Use of Provider {n}</h1>
<h2>1. Acceptance</h2><p>{filler}</p>
<h2>2. Your content</h2><p>You own the Input you provide and, as between you and Provider {n}, the Output.</p>
<h2>3. Restrictions</h2><p>You may not:</p><ol type="a">
<li>use Output to develop models that compete with Provider {n};</li>
<li>reverse engineer, decompile or disassemble the Services;</li>
<li>use any automated means to scrape data from the Services;</li>
<li>resell or lease access to the Services without our written consent.</li></ol>
<h2>4. Changes</h2><p>{filler}</p><h2>5. Law</h2><p>{filler}</p></main><footer>Cookie settings</footer></body></html>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so by email. " * 6


def build_pages(count: int) -> list[bytes]:
    return [PAGE.format(n=n, filler=FILLER).encode() for n in range(count)]


def serve(port_queue: multiprocessing.Queue, count: int, delay: float) -> None:
    asyncio.run(_serve(port_queue, build_pages(count), delay))


def write_sources(path: Path, port: int, count: int) -> None:
    entries = [{"id": f"p{n:05d}", "provider": f"Provider {n}", "title": "Terms of Use",
                "url": f"http://127.0.0.1:{port}/terms/{n}", "select": ["main"], "schedule": "12h",
                "allow_private": True, "respect_robots": False} for n in range(count)]
    path.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False))


def sizes(engine) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Rows and bytes (table + indexes + toast) of each table, and the whole database."""
    out = {}
    with engine.connect() as connection:
        for table in TABLES:
            rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
            out[table] = (rows, size)
        out["database"] = (0, connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return out


def wait_for_cycle(engine, ids: list[str], started: float, timeout: float) -> float:  # type: ignore[no-untyped-def]
    while time.monotonic() - started < timeout:
        if pending_sources(engine, ids) == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"cycle did not finish within {timeout} s")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def bench(workers: int, port: int, count: int, cycles: int, batch: int, concurrency: int, workdir: Path) -> dict:
    name = f"cw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = connect(url)
    init_database(engine)
    sources = workdir / "sources.yaml"
    write_sources(sources, port, count)
    ids = [f"p{n:05d}" for n in range(count)]
    env = {**os.environ, "CLAUSEWATCH_FETCH_PER_HOST": str(concurrency), "CLAUSEWATCH_FETCH_RETRIES": "0"}
    command = [sys.executable, "-m", "monitor", "--db", url, "--sources", str(sources), "worker", "--poll", "200ms",
               "--batch", str(batch), "--concurrency", str(concurrency), "--quiet", "--alerts-file", "-"]
    result: dict = {"workers": workers, "cycles": []}
    started = time.monotonic()
    log = (workdir / f"workers-{workers}.log").open("w+")
    processes = [subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=log) for _ in range(workers)]
    try:
        while sizes(engine)["source_schedule"][0] < count:  # the workers register the sources (due now) first
            if time.monotonic() - started > 120 or any(process.poll() is not None for process in processes):
                raise SystemExit("the workers did not start")
            time.sleep(0.2)
        cpu_before = 0.0
        for cycle in range(cycles + 1):
            if cycle:
                make_due(engine)
                started = time.monotonic()
            before = sizes(engine)
            seconds = wait_for_cycle(engine, ids, started, timeout=1800)
            after = sizes(engine)
            cpu = cpu_seconds([process.pid for process in processes])
            result["cycles"].append({"kind": "first (all new)" if cycle == 0 else "unchanged (304)",
                                     "seconds": seconds, "per_second": count / seconds,
                                     "worker_cpu_seconds": cpu - cpu_before, "before": before, "after": after})
            print(f"  {workers} worker(s), cycle {cycle}: {seconds:.1f} s, {count / seconds:.0f} sources/s, "
                  f"worker CPU {cpu - cpu_before:.1f} s", flush=True)
            cpu_before = cpu
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.seek(0)
        errors = log.read()
        if errors.strip():
            print(errors[-3000:], file=sys.stderr)
        log.close()
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def report(results: list[dict], count: int) -> None:
    print("\nworkers | first cycle (all new) | unchanged cycle (304) | speed-up (unchanged) | worker CPU (unchanged)")
    base = None
    for result in results:
        first = result["cycles"][0]
        unchanged = result["cycles"][1:]
        seconds = min(cycle["seconds"] for cycle in unchanged)
        base = base or seconds
        cpu = sum(cycle["worker_cpu_seconds"] for cycle in unchanged) / len(unchanged)
        print(f"{result['workers']:7} | {first['seconds']:8.1f} s {count / first['seconds']:6.0f}/s | "
              f"{seconds:8.1f} s {count / seconds:6.0f}/s | {base / seconds:19.2f}x | {cpu:8.1f} s")
    print("\ndatabase growth per unchanged cycle (rows / bytes, table + indexes):")
    for result in results:
        for number, cycle in enumerate(result["cycles"][1:], 1):
            growth = {table: (cycle["after"][table][0] - cycle["before"][table][0],
                              cycle["after"][table][1] - cycle["before"][table][1]) for table in cycle["after"]}
            rows = growth["fetch_attempt"][0]
            per_row = growth["fetch_attempt"][1] / rows if rows else 0
            others = {table: change for table, change in growth.items()
                      if table not in ("fetch_attempt", "database", "source_schedule") and change[0]}
            print(f"  {result['workers']} worker(s), unchanged cycle {number}: fetch_attempt +{rows} rows, "
                  f"+{growth['fetch_attempt'][1] / 1024:.0f} KiB ({per_row:.0f} B/row); other tables' rows: "
                  f"{others or 'unchanged'}; source_schedule +{growth['source_schedule'][1] / 1024:.0f} KiB "
                  f"(dead row versions until autovacuum); whole database +{growth['database'][1] / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--delay", type=float, default=0.05, help="server latency per response, seconds")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--cycles", type=int, default=2, help="unchanged cycles after the first")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight per worker")
    args = parser.parse_args()

    print(f"{args.sources} sources, {args.delay * 1000:.0f} ms latency, batch {args.batch}, "
          f"{args.concurrency} requests in flight per worker, {os.cpu_count()} cores", flush=True)
    results = []
    with page_server(args.sources, args.delay, target=serve) as port, tempfile.TemporaryDirectory() as workdir:
        for workers in [int(n) for n in args.workers.split(",")]:
            results.append(bench(workers, port, args.sources, args.cycles, args.batch, args.concurrency,
                                 Path(workdir)))
    report(results, args.sources)


if __name__ == "__main__":
    main()
