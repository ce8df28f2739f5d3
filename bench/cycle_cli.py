"""The cron command beside urlwatch: N pages on 25 loopback hosts in, seconds, peak RSS and database growth
per cycle out.

    .venv/bin/pip install urlwatch      # the bench environment only; not a dependency
    .venv/bin/python bench/cycle_cli.py [--pages 500] [--delay 0.05] [--clausewatch PATH]

Each cycle is a new process, as cron starts it, with the defaults and an environment cleared of every
CLAUSEWATCH_* variable and of PYTHONUNBUFFERED: `clausewatch --db sqlite:///<dir>/clausewatch.db --sources
<dir>/sources.yaml run --once --quiet`, and `urlwatch --urls ... --cache ...`. Each tool gets a fresh store.
Three cycles:
1. first: everything is new;
2. unchanged: the same documents again;
3. changed: 5 % of the pages now serve an earlier recorded version of their document.
The pages are the newest versions of the documents of ../shared/corpus/genai-eu rendered as HTML of about
46 KB, served by a server in its own process on 127.0.0.1 ... 127.0.0.25, each answer 50 ms late. Every
answer carries a fresh nonce (as pages with CSRF tokens and build ids do), so no request gets a 304 and
every raw body differs from the last one. `--clausewatch` picks the executable (default: the one beside
this Python, i.e. the checkout's editable install; give a clean venv's to measure the installed wheel).

CPU is the user and system seconds of the tool's process tree (each process's last /proc sample, so up to
20 ms of a process's end is missed): on a busy machine it moves far less than the wall-clock seconds, which the issue's targets are stated in.
Peak RSS is the largest sum of the RSS of a tool's process tree (the command and its analysis workers),
sampled from /proc every 20 ms. Workers forked from the command share its pages, which RSS counts once in
each process: PSS (each shared page divided among the processes sharing it, /proc/PID/smaps_rollup), read
whenever the RSS sum reaches a new peak, is the memory the tree takes from the machine. Database growth is the bytes the store's files gained in the cycle
(SQLite file with its -wal; urlwatch's cache.db).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_speed import PAGE_BYTES, _parse_head, render_blocks  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "genai-eu"
HOSTS = [f"127.0.0.{number}" for number in range(1, 26)]
CHANGED_EVERY = 20  # every 20th page changes in the third cycle: 5 %
CYCLES = ("first", "unchanged", "5% changed")


# ---------------------------------------------------------------- pages

def document_versions() -> list[tuple[str, str]]:
    """(newest text, an earlier text that differs most in length) for every corpus document with two or
    more real versions (the Llama API error pages left out)."""
    pairs = []
    for folder in sorted({path.parent for path in CORPUS.rglob("*.md")}):
        texts = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.md"))]
        texts = [text for text in texts if len(text) >= 2000 and "This page isn" not in text]
        if len(texts) < 2:
            continue
        newest = texts[-1]
        earlier = max(texts[:-1], key=lambda text: abs(len(text) - len(newest)))
        if earlier != newest:
            pairs.append((newest, earlier))
    if not pairs:
        raise SystemExit(f"no corpus at {CORPUS}")
    return pairs


def render_page(index: int, text: str) -> str:
    """One page of about PAGE_BYTES with a slot for the per-request nonce ({nonce})."""
    while len(text) < PAGE_BYTES:
        text += "\n\n" + text
    head = (f"<!doctype html><html><head><title>Terms {index}</title>"
            f'<meta name="csrf-token" content="{{nonce}}"></head><body><main><h1>Terms {index}</h1>')
    body = render_blocks(text[:PAGE_BYTES - len(head) - 32]).replace("{", "{{").replace("}", "}}")
    return head + body + '</main><script>window.__BUILD__="{nonce}"</script></body></html>'


def build_pages(count: int) -> tuple[list[str], list[str]]:
    """Each page as served in cycles 1-2, and as served in cycle 3 (every CHANGED_EVERY-th an earlier version)."""
    pairs = document_versions()
    now, later = [], []
    for index in range(count):
        newest, earlier = pairs[index % len(pairs)]
        page = render_page(index, newest)
        now.append(page)
        later.append(render_page(index, earlier) if index % CHANGED_EVERY == 0 else page)
    return now, later


# ---------------------------------------------------------------- server (own process)

def serve(ready: multiprocessing.Queue, phase: multiprocessing.Value, count: int, delay: float) -> None:
    asyncio.run(_serve(ready, phase, build_pages(count), delay))


async def _serve(ready: multiprocessing.Queue, phase: multiprocessing.Value,
                 pages: tuple[list[str], list[str]], delay: float) -> None:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                path, _ = _parse_head(await reader.readuntil(b"\r\n\r\n"))
                await asyncio.sleep(delay)
                writer.write(_response(pages[1 if phase.value else 0], path))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    servers = [await asyncio.start_server(respond, host, 0, backlog=1024) for host in HOSTS]
    ready.put({host: server.sockets[0].getsockname()[1] for host, server in zip(HOSTS, servers)})
    await asyncio.gather(*(server.serve_forever() for server in servers))


def _response(pages: list[str], path: str) -> bytes:
    last = path.rsplit("/", 1)[-1]
    if not (path.startswith("/page/") and last.isdigit() and int(last) < len(pages)):
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"  # robots.txt too: everything allowed
    body = pages[int(last)].format(nonce=uuid.uuid4().hex).encode("utf-8")
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


@contextmanager
def page_server(count: int, delay: float) -> Iterator[tuple[dict[str, int], multiprocessing.Value]]:
    """The server in its own process: yields each host's port and the phase (0: cycles 1-2, 1: cycle 3)."""
    ready: multiprocessing.Queue = multiprocessing.Queue()
    phase = multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=serve, args=(ready, phase, count, delay), daemon=True)
    server.start()
    try:
        yield ready.get(timeout=120), phase
    finally:
        server.terminate()
        server.join()


def page_urls(ports: dict[str, int], count: int) -> list[str]:
    return [f"http://{HOSTS[index % len(HOSTS)]}:{ports[HOSTS[index % len(HOSTS)]]}/page/{index}"
            for index in range(count)]


# ---------------------------------------------------------------- measuring one command

@dataclass
class Cycle:
    seconds: float
    peak_rss_mb: float
    growth_bytes: int
    exit_code: int
    output: str
    cpu_seconds: float = 0.0
    peak_pss_mb: float = 0.0


def tree_rss_kb(root: int) -> int:
    """The summed VmRSS of `root` and its descendants (Linux /proc)."""
    return sum(rss for rss, _ in _tree(root).values())


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """(VmRSS in kB, user + system CPU seconds) of `root` and each of its descendants, by pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    usage: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
            ticks = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[11:13]
        except (OSError, IndexError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields["PPid"]), []).append(pid)
        usage[pid] = (int(fields.get("VmRSS", "0 kB").split()[0]), sum(map(int, ticks)) / _TICKS)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in usage:
            tree[pid] = usage[pid]
        todo.extend(children.get(pid, ()))
    return tree


_TICKS = os.sysconf("SC_CLK_TCK")


def files_bytes(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.exists())


def run_command(command: list[str], cwd: Path, store: list[Path], env: dict[str, str]) -> Cycle:
    before = files_bytes(store)
    peak, cpu = 0, {}
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)
    reader.start()
    peak_pss = 0
    while process.poll() is None:
        tree = _tree(process.pid)
        rss = sum(rss for rss, _ in tree.values())
        if rss > peak:  # PSS is read at the RSS peaks only: reading it costs more than the rest
            peak, peak_pss = rss, max(peak_pss, sum(map(_pss_kb, tree)))
        cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    reader.join()
    return Cycle(seconds, peak / 1024, files_bytes(store) - before, process.returncode, "".join(output),
                 sum(cpu.values()), peak_pss / 1024)


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def clean_environment() -> dict[str, str]:
    # cron sets no PYTHONUNBUFFERED: what a tool writes to its pipe is buffered, as it is for users
    return {name: value for name, value in os.environ.items()
            if not name.startswith("CLAUSEWATCH_") and name != "PYTHONUNBUFFERED"}


def clausewatch_cycles(executable: str, urls: list[str], folder: Path, phase: multiprocessing.Value) -> list[Cycle]:
    write_clausewatch_sources(urls, folder)
    database = folder / "clausewatch.db"
    return run_cycles(clausewatch_command(executable, folder), folder, [database, Path(f"{database}-wal")], phase)


def write_clausewatch_sources(urls: list[str], folder: Path) -> None:
    sources = [{"id": f"page-{index}", "provider": "Bench", "title": f"Page {index}", "url": url,
                "allow_private": True} for index, url in enumerate(urls)]
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, sort_keys=False))


def clausewatch_command(executable: str, folder: Path) -> list[str]:
    """The cron command on `folder`'s sources.yaml and database."""
    return [executable, "--db", f"sqlite:///{folder / 'clausewatch.db'}", "--sources", str(folder / "sources.yaml"),
            "run", "--once", "--quiet"]


def urlwatch_cycles(executable: str, urls: list[str], folder: Path, phase: multiprocessing.Value) -> list[Cycle]:
    (folder / "urls.yaml").write_text("\n---\n".join(f"url: {url}" for url in urls) + "\n")
    command = [executable, "--urls", str(folder / "urls.yaml"), "--config", str(folder / "urlwatch.yaml"),
               "--hooks", str(folder / "hooks.py"), "--cache", str(folder / "cache.db")]
    return run_cycles(command, folder, [folder / "cache.db"], phase)


def run_cycles(command: list[str], folder: Path, store: list[Path], phase: multiprocessing.Value) -> list[Cycle]:
    cycles = []
    for index in range(len(CYCLES)):
        phase.value = 1 if index == 2 else 0
        cycles.append(run_command(command, folder, store, clean_environment()))
    return cycles


def find_executable(name: str, given: str | None) -> str | None:
    return given or shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="server delay per response, seconds")
    parser.add_argument("--clausewatch", help="the clausewatch executable [default: beside this Python]")
    parser.add_argument("--urlwatch", help="the urlwatch executable [default: beside this Python]")
    args = parser.parse_args()
    ours = find_executable("clausewatch", args.clausewatch)
    theirs = find_executable("urlwatch", args.urlwatch)
    if ours is None:
        raise SystemExit("no clausewatch executable: pip install the wheel or give --clausewatch PATH")
    results: dict[str, list[Cycle]] = {}
    with page_server(args.pages, args.delay) as (ports, phase):
        urls = page_urls(ports, args.pages)
        with tempfile.TemporaryDirectory() as folder:
            results["clausewatch"] = clausewatch_cycles(ours, urls, Path(folder), phase)
        if theirs:
            with tempfile.TemporaryDirectory() as folder:
                results["urlwatch"] = urlwatch_cycles(theirs, urls, Path(folder), phase)
    report(args, ours, results)


def report(args: argparse.Namespace, executable: str, results: dict[str, list[Cycle]]) -> None:
    load = os.getloadavg()[0]
    print(f"{args.pages} pages on {len(HOSTS)} hosts, {args.delay * 1000:g} ms per response, "
          f"load average {load:.1f}, clausewatch = {executable}")
    for tool, cycles in results.items():
        for name, cycle in zip(CYCLES, cycles):
            last = cycle.output.strip().splitlines()[-1:] if tool == "clausewatch" else []
            print(f"{tool:<11} {name:<11} {cycle.seconds:6.2f} s  cpu {cycle.cpu_seconds:6.2f} s  peak RSS {cycle.peak_rss_mb:5.0f} MB  PSS {cycle.peak_pss_mb:5.0f} MB  "
                  f"store +{cycle.growth_bytes:>10,} B  exit {cycle.exit_code}  {' '.join(last)}")
    if "urlwatch" not in results:
        print("urlwatch is not installed in this environment (pip install urlwatch): no comparison")
        return
    for index, name in enumerate(CYCLES):
        ours, theirs = results["clausewatch"][index], results["urlwatch"][index]
        print(f"ratio clausewatch / urlwatch, {name:<11} {ours.seconds / theirs.seconds:.2f}"
              f"  (cpu {ours.cpu_seconds / theirs.cpu_seconds:.2f})")


if __name__ == "__main__":
    main()
