"""The cron lock: a slow `run --once` and the next cron tick never overlap; the later one exits 4 at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import Response

from monitor.store.leases import RUN_LOCKED_EXIT_CODE

TERMS = """<html><body><main><h1>Terms of Use</h1><h2>3. Restrictions</h2><p>You may not use Output to develop
models that compete with Example.</p><h2>4. Changes</h2><p>{filler}</p></main></body></html>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 5


def _run(db: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--db", db, "run", "--once", "--quiet"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CLAUSEWATCH_FETCH_RETRIES": "0"})


def _slow_site(local_server, tmp_path: Path, seconds: float) -> None:  # type: ignore[no-untyped-def]
    body = TERMS.format(filler=FILLER).encode()

    def slow(handler) -> Response:  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return Response(200, body, {"Content-Type": "text/html; charset=utf-8"})

    local_server.pages["/terms"] = slow
    entry = {"id": "slow-terms", "provider": "Example", "title": "Terms", "url": local_server.url("/terms"),
             "select": ["main"], "allow_private": True, "respect_robots": False}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))


def _wait_for_request(local_server, count: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while len(local_server.requests) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(local_server.requests) >= count, "the first run never fetched"


def test_a_second_run_exits_at_once_while_the_first_is_still_running(db_url: str, local_server,
                                                                     tmp_path: Path) -> None:
    _slow_site(local_server, tmp_path, seconds=4)
    first = _run(db_url, tmp_path)
    try:
        _wait_for_request(local_server, 1)  # the first run holds the lock and waits for the slow page
        started = time.monotonic()
        second = _run(db_url, tmp_path)
        out, err = second.communicate(timeout=30)
        assert second.returncode == RUN_LOCKED_EXIT_CODE == 4, err
        assert "another `clausewatch run --once` is still running" in err and "skipped" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert first.poll() is None  # it did not wait for the first one
        assert len(local_server.requests) == 1  # and fetched nothing
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0, err
        assert time.monotonic() - started < 30
    finally:
        if first.poll() is None:
            first.kill()
    third = _run(db_url, tmp_path)  # the lock went with the first run
    assert third.wait(timeout=30) == 0, third.stderr.read() if third.stderr else ""


def test_a_killed_run_leaves_no_stale_lock(db_url: str, local_server, tmp_path: Path) -> None:
    _slow_site(local_server, tmp_path, seconds=2)
    first = _run(db_url, tmp_path)
    _wait_for_request(local_server, 1)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    # the kernel drops the flock at once; PostgreSQL drops the advisory lock when it sees the connection close
    deadline = time.monotonic() + 10
    while True:
        again = _run(db_url, tmp_path)
        code = again.wait(timeout=30)
        if code != RUN_LOCKED_EXIT_CODE or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 0, again.stderr.read() if again.stderr else ""
