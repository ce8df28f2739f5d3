"""Whole crawl cycles, ClauseWatch beside urlwatch: N local pages in, cycle times and peak memory out.

    .venv/bin/pip install urlwatch      # the bench environment only; not a dependency
    .venv/bin/python bench/cycle_vs_urlwatch.py [--pages 500] [--delay 0.05] [--cycles 3]

One local server (its own process, 50 ms per response, ETag / 304) serves N pages of about 46 KB
made from corpus texts. ClauseWatch runs its real cycle (`monitor.pipeline.run_cycle`: fetch,
extract, clauses, compare, store in SQLite; new pages analysed and stored by worker processes, one per
core unless CLAUSEWATCH_ANALYSIS_PROCESSES says otherwise); urlwatch runs as its command line with its
own cache. First cycle: everything is new. Later cycles: nothing changed. Peak memory is given for the
main process and for each analysis worker.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_speed import page_server  # noqa: E402  (the same server as the fetch benchmark)

from monitor.fetch import FetchSettings  # noqa: E402
from monitor.pipeline import Recorder, run_cycle  # noqa: E402
from monitor.sources import Source  # noqa: E402
from monitor.store import connect, init_database  # noqa: E402


def worker_peaks_mb() -> list[float]:
    """Peak RSS of each live analysis worker process (VmHWM from /proc; Linux only)."""
    from monitor.analysis import shared_pool, analysis_processes

    pool = shared_pool(analysis_processes())
    peaks = []
    for process in (pool._executor._processes.values() if pool else ()):
        status = Path(f"/proc/{process.pid}/status")
        if status.exists():
            line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
            peaks.append(int(line.split()[1]) / 1024)
    return peaks


def clausewatch_cycles(port: int, pages: int, cycles: int, concurrency: int, folder: Path) -> list[tuple]:
    engine = connect(f"sqlite:///{folder / 'bench.db'}")
    init_database(engine)
    recorder = Recorder(engine)
    settings = FetchSettings(concurrency=concurrency, per_host=concurrency, respect_robots=False)
    sources = [Source(id=f"page-{i}", provider="Bench", title=f"Page {i}", url=f"http://127.0.0.1:{port}/page/{i}",
                      allow_private=True, respect_robots=False) for i in range(pages)]
    timings = []
    for _ in range(cycles):
        began = time.perf_counter()
        summary = run_cycle(recorder, sources, settings)
        timings.append((time.perf_counter() - began, summary.line()))
    engine.dispose()
    return timings


def urlwatch_cycles(port: int, pages: int, cycles: int, folder: Path) -> list[tuple]:
    executable = shutil.which("urlwatch", path=str(Path(sys.executable).parent)) or shutil.which("urlwatch")
    if executable is None:
        return []
    urls = folder / "urls.yaml"
    urls.write_text("\n---\n".join(f"url: http://127.0.0.1:{port}/page/{i}" for i in range(pages)) + "\n")
    command = [executable, "--urls", str(urls), "--config", str(folder / "urlwatch.yaml"),
               "--hooks", str(folder / "hooks.py"), "--cache", str(folder / "cache.db")]
    timings = []
    for _ in range(cycles):
        began = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        timings.append((time.perf_counter() - began, ""))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--cycles", type=int, default=3, help="cycles per tool: the first, then unchanged ones")
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with page_server(args.pages, args.delay) as port, tempfile.TemporaryDirectory() as ours, \
            tempfile.TemporaryDirectory() as theirs:
        cw = clausewatch_cycles(port, args.pages, args.cycles, args.concurrency, Path(ours))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workers = worker_peaks_mb()
        uw = urlwatch_cycles(port, args.pages, args.cycles, Path(theirs))
    print(f"{args.pages} pages, {args.delay * 1000:g} ms per response, ClauseWatch concurrency {args.concurrency}")
    for index, (seconds, line) in enumerate(cw):
        print(f"clausewatch cycle {index + 1} ({'first' if index == 0 else 'unchanged'}): {seconds:.2f} s  {line}")
    for index, (seconds, _) in enumerate(uw):
        print(f"urlwatch    cycle {index + 1} ({'first' if index == 0 else 'unchanged'}): {seconds:.2f} s")
    if not uw:
        print("urlwatch is not installed in this environment (pip install urlwatch): no comparison")
    print(f"peak RSS of the ClauseWatch process: {peak:.0f} MB; of its analysis workers: "
          f"{', '.join(f'{mb:.0f} MB' for mb in workers) or 'none'}; sum {peak + sum(workers):.0f} MB")


if __name__ == "__main__":
    main()
