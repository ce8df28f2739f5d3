"""Where the cron command's seconds go: the CPU of each of its processes, bucket by bucket, over the cycles of
bench/cycle_cli.py.

    .venv/bin/python bench/cycle_timeline.py [--pages 500] [--cycles 2] [--bucket 0.2] [--clausewatch PATH]

The same pages, hosts, server delay and command as bench/cycle_cli.py (a new process per cycle, defaults, a
fresh store). /proc is read every 20 ms; each row is one bucket: the seconds since the command started, then
the CPU seconds each process used in that bucket (the command first, then its analysis workers in the order
they started). A core fully busy for the whole bucket shows the bucket's length. Read it for when the workers
get their first page, whether they stay busy, and how much of the command's time is its start alone.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from cycle_cli import (clausewatch_command, clean_environment, find_executable, page_server, page_urls,
                       write_clausewatch_sources, _tree)


def sample(command: list[str], cwd: Path) -> tuple[float, list[tuple[float, dict[int, float]]], str]:
    """Run `command`; its wall seconds, (seconds since start, CPU seconds by pid) every 20 ms, its output."""
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=clean_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)
    reader.start()  # a full pipe would stall the command
    samples = []
    while process.poll() is None:
        tree = _tree(process.pid)
        samples.append((time.perf_counter() - began, {pid: cpu for pid, (_, cpu) in tree.items()}))
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    reader.join()
    return seconds, samples, "".join(output)


def print_timeline(samples: list[tuple[float, dict[int, float]]], bucket: float) -> None:
    pids = sorted({pid for _, tree in samples for pid in tree})
    used = {pid: 0.0 for pid in pids}
    edge = bucket
    for moment, tree in samples:
        if moment < edge:
            continue
        row = [tree.get(pid, used[pid]) - used[pid] for pid in pids]
        print(f"{edge:5.1f} s  " + "  ".join(f"{cpu:4.2f}" for cpu in row))
        used = {pid: tree.get(pid, used[pid]) for pid in pids}
        while edge <= moment:
            edge += bucket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="server delay per response, seconds")
    parser.add_argument("--cycles", type=int, default=1, help="1: the first cycle; 2: and an unchanged one")
    parser.add_argument("--bucket", type=float, default=0.2, help="seconds per row")
    parser.add_argument("--clausewatch", help="the clausewatch executable [default: beside this Python]")
    args = parser.parse_args()
    executable = find_executable("clausewatch", args.clausewatch)
    if executable is None:
        raise SystemExit("no clausewatch executable: pip install the wheel or give --clausewatch PATH")
    with page_server(args.pages, args.delay) as (ports, _phase), tempfile.TemporaryDirectory() as folder:
        write_clausewatch_sources(page_urls(ports, args.pages), Path(folder))
        for cycle in range(1, args.cycles + 1):
            seconds, samples, output = sample(clausewatch_command(executable, Path(folder)), Path(folder))
            total = {pid: cpu for _, tree in samples for pid, cpu in tree.items()}  # each one's last reading
            print(f"cycle {cycle}: {seconds:.2f} s, CPU {sum(total.values()):.2f} s in {len(total)} processes "
                  f"({', '.join(f'{cpu:.2f}' for _, cpu in sorted(total.items()))}); "
                  f"{' '.join(output.strip().splitlines()[-1:])}")
            print_timeline(samples, args.bucket)


if __name__ == "__main__":
    main()
