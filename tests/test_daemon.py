"""The daemon: runs each source at start and on its schedule; SIGTERM stops it cleanly."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import func, select

from monitor.store import FetchAttempt, connect


def test_daemon_fetches_then_stops_cleanly_on_sigterm(local_server, tmp_path: Path, db_url: str) -> None:
    body = "<html><body><main><h1>Terms</h1><p>" + "You may not use Output to develop models. " * 20 + \
           "</p></main></body></html>"
    local_server.serve("/terms", body)
    sources = {"sources": [{"id": "local-terms", "provider": "Local", "title": "Terms",
                            "url": local_server.url("/terms"), "select": ["main"], "schedule": "1h",
                            "allow_private": True, "respect_robots": False}]}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--db", db_url, "daemon", "--quiet"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        attempts = 0
        while time.monotonic() < deadline and attempts == 0:
            time.sleep(0.3)
            attempts = _attempts(db_url)
        assert attempts == 1, "the daemon fetches every source once at start"
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert "Traceback" not in err
    assert "local-terms: checked" not in err  # a run that went well is INFO: -v shows it, the log stays quiet
    assert _attempts(db_url) == 1


def _attempts(db_url: str) -> int:
    """Fetch attempts so far; 0 while the daemon has not created the schema yet."""
    if db_url.startswith("sqlite:///") and not os.path.exists(db_url.removeprefix("sqlite:///")):
        return 0  # connecting would create the file under the daemon's feet
    engine = connect(db_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(FetchAttempt)).scalar_one()
    except Exception:
        return 0
    finally:
        engine.dispose()


def test_sigterm_drops_the_runs_still_queued_and_finishes_those_in_flight(local_server, tmp_path: Path,
                                                                           db_url: str) -> None:
    """At start every source's first run is queued at once: on SIGTERM the queued ones are dropped (each
    would be fetched on the next start), the ones in flight are recorded, and the daemon exits at once."""
    from conftest import Response

    body = ("<html><body><main><h1>Terms</h1><p>" + "You may not use Output to develop models. " * 20
            + "</p></main></body></html>").encode()

    def slow(_request) -> Response:
        time.sleep(0.5)
        return Response(200, body, {"Content-Type": "text/html"})

    count = 60
    entries = []
    for index in range(count):
        local_server.pages[f"/terms/{index}"] = slow
        entries.append({"id": f"terms-{index}", "provider": "Local", "title": f"Terms {index}",
                        "url": local_server.url(f"/terms/{index}"), "select": ["main"], "schedule": "1h",
                        "allow_private": True, "respect_robots": False})
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    returncode, err = daemon_until(db_url, tmp_path, lambda: _attempts(db_url) > 0, seconds=30)
    assert returncode == 0 and "Traceback" not in err, err
    # the runs in flight (a thread pool's worth) were recorded; the rest, queued, were dropped
    assert 1 <= _attempts(db_url) < count // 2


def daemon_until(db_url: str, cwd: Path, done, seconds: float, env: dict | None = None) -> tuple[int, str]:
    """Run `clausewatch daemon` until `done()` (or `seconds`), then SIGTERM it: its exit code and stderr."""
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--db", db_url, "daemon", "--quiet"], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done():
            time.sleep(0.1)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    return daemon.returncode, err


def test_the_daemon_keeps_a_bounded_number_of_latest_versions_in_memory(local_server, tmp_path: Path, db_url: str,
                                                                        monkeypatch) -> None:
    """A daemon records each source about once a schedule period: it must not keep every source's latest text
    (at 10,000 sources that was most of its memory)."""
    from click.testing import CliRunner

    import monitor.pipeline
    import monitor.schedule
    from monitor.cli import cli

    body = "<html><body><main><h1>Terms</h1><p>{} You may not use Output to develop models.</p></main></body></html>"
    entries = []
    for index in range(8):
        local_server.serve(f"/terms/{index}", body.format(f"Document {index}. " * 30))
        entries.append({"id": f"terms-{index}", "provider": "Local", "title": f"Terms {index}",
                        "url": local_server.url(f"/terms/{index}"), "schedule": "1h", "allow_private": True,
                        "respect_robots": False})
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    recorders: list = []

    class CountedRecorder(monitor.pipeline.Recorder):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            recorders.append(self)

    def every_source_once(sources, run_source, **_) -> None:
        for source in sources:
            run_source(source)

    monkeypatch.setattr(monitor.pipeline, "Recorder", CountedRecorder)
    monkeypatch.setattr(monitor.pipeline, "LONG_RUNNING_CACHED_SOURCES", 3)
    monkeypatch.setattr(monitor.schedule, "run_daemon", every_source_once)
    done = CliRunner().invoke(cli, ["--db", db_url, "--sources", str(tmp_path / "sources.yaml"), "daemon", "--quiet"],
                              env={"CLAUSEWATCH_ANALYSIS_PROCESSES": "0"})
    assert done.exit_code == 0, done.output
    assert _attempts(db_url) == 8
    assert len(recorders) == 1 and 0 < len(recorders[0]._latest) <= 3


def test_a_daemon_run_is_a_warning_only_when_its_fetch_failed(caplog) -> None:
    from monitor.cli.crawl import log_daemon_run
    from monitor.pipeline.cycle import CycleSummary

    caplog.set_level(logging.INFO, logger="monitor.daemon")
    log_daemon_run("fine", CycleSummary(checked=1, unchanged=1))
    log_daemon_run("broken", CycleSummary(checked=1, failed=1, alert_failures=["slack: HTTP 500"]))
    assert [(record.levelno, record.getMessage().split(":")[0]) for record in caplog.records] == [
        (logging.INFO, "fine"), (logging.WARNING, "broken"), (logging.WARNING, "alert channel failed")]
