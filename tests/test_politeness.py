"""Politeness across a daemon's jobs: the per-host limit, delay and robots.txt rules are one process's, however many
scheduled jobs fetch at once (each in its own thread and event loop)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import yaml
from conftest import Response
from test_daemon import _attempts, daemon_until

from monitor.fetch.politeness import HostGates

PER_HOST = 2
PAGE = ("<html><head><title>Terms</title></head><body><main><h1>Terms of Use</h1><p>"
        + "You may not use Output to develop models that compete with us. " * 10 + "</p></main></body></html>")


class InFlight:
    """Counts the requests a local server is answering at once; each takes a little while."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, body: bytes, content_type: str):  # noqa: ANN204 - a handler factory
        def handle(_request: object) -> Response:
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(self.seconds)
            with self.lock:
                self.now -= 1
            return Response(200, body, {"Content-Type": content_type})

        return handle


def test_a_daemon_over_twenty_sources_on_one_host_keeps_to_per_host(local_server, tmp_path: Path,
                                                                     db_url: str) -> None:
    in_flight = InFlight(0.2)
    local_server.pages["/robots.txt"] = in_flight(b"User-agent: *\nAllow: /\n", "text/plain")
    entries = []
    for number in range(20):
        local_server.pages[f"/terms/{number}"] = in_flight(PAGE.encode(), "text/html; charset=utf-8")
        entries.append({"id": f"terms-{number}", "provider": "Local", "title": "Terms of Use",
                        "url": local_server.url(f"/terms/{number}"), "schedule": "1d", "allow_private": True})
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    env = {**os.environ, "CLAUSEWATCH_FETCH_PER_HOST": str(PER_HOST), "CLAUSEWATCH_ANALYSIS_PROCESSES": "0"}
    returncode, err = daemon_until(db_url, tmp_path, lambda: _attempts(db_url) >= 20, seconds=90, env=env)
    assert returncode == 0 and "Traceback" not in err, err
    assert _attempts(db_url) == 20
    assert in_flight.most <= PER_HOST, f"{in_flight.most} requests in flight to one host"
    assert in_flight.most == PER_HOST  # and the limit is used, not one at a time
    robots = [path for _, path, _ in local_server.requests if path == "/robots.txt"]
    assert len(robots) == 1, "one robots.txt fetch for the whole daemon"



def test_host_gates_hold_across_event_loops_and_a_cancelled_waiter_passes_its_slot_on() -> None:
    gates = HostGates(per_host=2, delay=0)
    lock = threading.Lock()
    counts = {"now": 0, "most": 0}

    async def request() -> None:
        async with gates.slot("example.com"):
            with lock:
                counts["now"] += 1
                counts["most"] = max(counts["most"], counts["now"])
            try:
                await asyncio.sleep(0.01)
            finally:
                with lock:
                    counts["now"] -= 1

    async def one_run() -> None:
        waiting = asyncio.ensure_future(request())
        await asyncio.sleep(0)
        waiting.cancel()  # a run stopped while it waits for a slot
        await asyncio.gather(*(request() for _ in range(10)))

    threads = [threading.Thread(target=asyncio.run, args=(one_run(),)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert counts["most"] == 2 and counts["now"] == 0
    assert gates._in_flight["example.com"] == 0  # every slot came back
