"""How the command ends its process: at once after the work, with nothing of it lost (monitor/cli, end_process)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from conftest import LocalServer, Response

PAGE = ("<html><body><main><h1>Terms</h1>" + "".join(
    f"<p>Section {number}. You may not use Output to develop models that compete with us.</p>"
    for number in range(1, 30)) + "</main></body></html>").encode()


# As cron runs it: what goes to a pipe is buffered (this environment may say PYTHONUNBUFFERED).
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def _clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=BUFFERED)


def _sources(folder: Path, urls: list[str]) -> Path:
    file = folder / "sources.yaml"
    file.write_text(yaml.safe_dump({"sources": [
        {"id": f"terms-{index}", "provider": "Test", "title": f"Terms {index}", "url": url, "allow_private": True}
        for index, url in enumerate(urls)]}))
    return file


def test_a_cycle_ends_with_its_summary_printed_and_the_database_closed(tmp_path: Path,
                                                                      local_server: LocalServer) -> None:
    local_server.pages["/terms"] = Response(200, PAGE, {"Content-Type": "text/html"})
    urls = [local_server.url("/terms"), local_server.url("/missing")]
    database = tmp_path / "cw.db"
    done = _clausewatch("--db", f"sqlite:///{database}", "--sources", str(_sources(tmp_path, urls)), "run", "--once",
                        cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # one of the two failed
    assert done.stdout.strip().splitlines()[-1].startswith("checked 2, new versions 1, unchanged 0, failed 1")
    assert "404" in done.stderr
    # the connections were closed: SQLite moved its WAL into the file and removed it
    assert not Path(f"{database}-wal").exists()
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM version").fetchone() == (1,)


def test_a_long_listing_to_a_pipe_is_printed_whole(tmp_path: Path) -> None:
    # Python buffers what goes to a pipe; ending the process at once must flush it first.
    urls = [f"https://example.org/terms/{index}" for index in range(400)]
    done = _clausewatch("--sources", str(_sources(tmp_path, urls)), "sources", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(yaml.safe_load(done.stdout)) == 400


def _end_process(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=BUFFERED)


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    done = _end_process(tmp_path, """
        import pathlib, threading, time
        from monitor.cli import end_process

        def finish():
            time.sleep(0.3)
            pathlib.Path("finished").write_text("yes")

        threading.Thread(target=finish).start()
        end_process(3)
    """)
    assert done.returncode == 3, done.stderr
    assert (tmp_path / "finished").read_text() == "yes"


def test_exit_handlers_run_and_a_message_is_an_error(tmp_path: Path) -> None:
    done = _end_process(tmp_path, """
        import atexit, pathlib
        from monitor.cli import end_process

        atexit.register(lambda: pathlib.Path("handled").write_text("yes"))
        print("buffered", end="")
        end_process("the reason it stopped")
    """)
    assert (done.returncode, done.stdout, done.stderr.strip()) == (1, "buffered", "the reason it stopped")
    assert (tmp_path / "handled").read_text() == "yes"
