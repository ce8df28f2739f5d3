"""A first run with no network: `run --once` against sources on a closed loopback port and on host names that
do not resolve (nothing leaves the machine). One summary grouped by failure kind and host; a line per
source only with -v; the missing part of the browser named; the database's side files ignored by git."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

FAST_RETRIES = {"CLAUSEWATCH_FETCH_BACKOFF_BASE": "0", "CLAUSEWATCH_FETCH_CONNECT_TIMEOUT": "2"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def offline_sources(tmp_path: Path) -> list[str]:
    """Six sources on a closed loopback port, four on two unresolvable hosts (three on one of them)."""
    port = closed_port()
    entries = [{"id": f"closed-{n}", "provider": "Closed", "title": f"Terms {n}", "allow_private": True,
                "url": f"http://127.0.0.1:{port}/terms-{n}"} for n in range(6)]
    entries += [{"id": f"unknown-{n}", "provider": "Unknown", "title": f"Terms {n}",
                 "url": f"https://{'one' if n < 3 else 'two'}.clausewatch-test.invalid/terms-{n}"} for n in range(4)]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return [entry["id"] for entry in entries]


def run_once(tmp_path: Path, db_url: str, *options: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, *options, "run", "--once"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **FAST_RETRIES, "COLUMNS": "200"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_offline_run_prints_one_summary_grouped_by_kind_and_host(tmp_path: Path, db_url: str) -> None:
    source_ids = offline_sources(tmp_path)
    done = run_once(tmp_path, db_url)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == "10 of 10 sources failed (-v for one line per source):", done.stderr
    assert len(lines) == 3, done.stderr  # one group per cause: the closed port, the unresolvable names
    closed = next(line for line in lines if "127.0.0.1" in line)
    unresolved = next(line for line in lines if "cannot resolve" in line)
    assert closed.startswith("  network_error: ") and ": 6 sources on 127.0.0.1:" in closed
    assert ": 4 sources on one.clausewatch-test.invalid (3), two.clausewatch-test.invalid" in unresolved
    assert not any(source_id in done.stderr for source_id in source_ids)
    assert "after 3 attempts" not in done.stderr
    assert done.stdout.strip() == "checked 10, new versions 0, unchanged 0, failed 10, alerts 0"


def test_offline_run_with_verbose_has_one_line_per_source_each_error_said_once(tmp_path: Path) -> None:
    source_ids = offline_sources(tmp_path)
    done = run_once(tmp_path, "sqlite:///clausewatch.db", "-v", "--log-format", "json")
    captures = [json.loads(line) for line in done.stderr.splitlines()
                if line.startswith("{") and '"monitor.capture"' in line]
    assert sorted(capture["source"] for capture in captures) == sorted(source_ids)
    for capture in captures:  # one DNS failure is shared by the sources of a host: noted once each
        assert capture["error"].count("(after 3 attempts)") == 1, capture["error"]
    human = run_once(tmp_path, "sqlite:///clausewatch.db", "-v")
    assert all(f"capture {source_id}: failed" in human.stderr for source_id in source_ids)
    assert "10 of 10 sources failed:" in human.stderr


def test_a_missing_playwright_is_named_not_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from monitor.fetch.browser import fetch_with_browser
    from monitor.fetch.settings import FetchRequest, fetch_settings_from_env
    from monitor.sources import Source

    monkeypatch.setitem(sys.modules, "playwright", None)  # as if not installed
    monkeypatch.setenv("CLAUSEWATCH_CHROMIUM", sys.executable)  # a browser executable is there
    source = Source(id="script-page", provider="P", title="T", url="https://example.com/", fetcher="browser")
    [result] = asyncio.run(fetch_with_browser([FetchRequest(source)], fetch_settings_from_env()))
    assert "`playwright` is not installed" in result.error
    assert "chromium" not in result.error.lower()


def test_missing_chromium_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.fetch.browser import missing_browser_part

    pytest.importorskip("playwright")
    assert "Chromium not found" in missing_browser_part(None)
    assert "is not an executable" in missing_browser_part(str(REPO / "README.md"))
    assert missing_browser_part(sys.executable) is None


@pytest.mark.parametrize("name", ["clausewatch.db-wal", "clausewatch.db-shm", "clausewatch.db-journal",
                                  "clausewatch.db.run-lock", "data/history.db-wal"])
def test_gitignore_covers_the_database_side_files(name: str) -> None:
    done = subprocess.run(["git", "check-ignore", "--no-index", name], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, f"{name} is not ignored"
