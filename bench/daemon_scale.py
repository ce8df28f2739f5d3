"""A daemon over many sources: N sources on 25 loopback hosts in; the time to fetch each once, and the peak RSS of
the daemon's process tree (the command and its analysis processes) out, on PostgreSQL.

    .venv/bin/python bench/daemon_scale.py [--sources 10000] [--pages 500] [--delay 0.05] [--clausewatch PATH]

bench/cycle_cli.py's server (its own process, a nonce per answer, 50 ms late) serves --pages distinct pages of
about 46 KB; source i fetches page i mod --pages on host i mod 25, so every source is a real fetch and a real
capture (the first of each page's sources makes a version, the others the same text). `clausewatch daemon`
runs as users run it (defaults, every CLAUSEWATCH_* variable removed) on a fresh PostgreSQL database, until
every source has a fetch attempt; then it gets SIGTERM. Issue 14's target: peak RSS under 400 MB at 10,000.
"""

from __future__ import annotations

import argparse
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
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cycle_cli import HOSTS, clean_environment, find_executable, page_server, tree_rss_kb  # noqa: E402

from monitor.store import FetchAttempt, connect  # noqa: E402

ADMIN_URL = os.environ.get("CLAUSEWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def sources_file(folder: Path, ports: dict[str, int], count: int, pages: int) -> Path:
    entries = [{"id": f"s{index}", "provider": "Bench", "title": f"Terms {index}", "schedule": "1d",
                "url": f"http://{HOSTS[index % len(HOSTS)]}:{ports[HOSTS[index % len(HOSTS)]]}/page/{index % pages}",
                "allow_private": True} for index in range(count)]
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False))
    return path


def attempts(engine) -> int:  # type: ignore[no-untyped-def]
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(FetchAttempt)).scalar_one()
    except Exception:  # noqa: BLE001 - the daemon has not made the schema yet
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--clausewatch")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    executable = find_executable("clausewatch", args.clausewatch)
    name = f"cw_daemon_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        with page_server(args.pages, args.delay) as (ports, _), tempfile.TemporaryDirectory() as folder:
            sources = sources_file(Path(folder), ports, args.sources, args.pages)
            engine = connect(database)
            subprocess.run([executable, "--db", database, "init"], check=True, env=clean_environment(),
                           capture_output=True)
            began, peak, done = time.perf_counter(), 0, 0
            # The daemon logs a line per run: its stderr goes to a file, as a pipe nobody reads would fill
            # (64 KB, about 600 lines) and block every job on its next log line.
            log_file = Path(folder) / "daemon.log"
            with log_file.open("w") as log:
                daemon = subprocess.Popen([executable, "--db", database, "--sources", str(sources), "daemon",
                                           "--quiet"], env=clean_environment(), stdout=subprocess.DEVNULL, stderr=log)
            try:
                while done < args.sources and daemon.poll() is None and time.perf_counter() - began < args.timeout:
                    peak = max(peak, tree_rss_kb(daemon.pid))
                    done = attempts(engine)
                    time.sleep(0.2)
                    if os.environ.get("BENCH_VERBOSE"):
                        print(f"{time.perf_counter() - began:.0f} s: {done} fetched, {peak / 1024:.0f} MB", flush=True)
                seconds = time.perf_counter() - began
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=120)
                err = log_file.read_text(errors="replace")
            engine.dispose()
        print(f"{args.sources} sources ({args.pages} distinct pages of about 46 KB on {len(HOSTS)} hosts, "
              f"{args.delay * 1000:g} ms per response), load average {os.getloadavg()[0]:.1f}")
        print(f"daemon: {done} of {args.sources} fetched in {seconds:.1f} s ({done / seconds:.0f}/s), peak RSS {peak / 1024:.0f} MB "
              f"(target < 400 MB), exit {daemon.returncode}")
        if daemon.returncode not in (0, -signal.SIGTERM) or "Traceback" in err:
            print(err[-2000:])
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
