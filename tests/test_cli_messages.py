"""Messages and exit codes (issue 17, first hour, item 7): every mistake named in one clear line, brackets
kept, and an exit code that says what happened."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

SOURCE = {"id": "good-terms", "provider": "Example", "title": "Terms [draft]", "url": "http://127.0.0.1:9/terms",
          "allow_private": True}


def clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write_sources(folder: Path, *entries: dict) -> None:
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": list(entries)}))


@pytest.fixture
def history_db(corpus: Path, tmp_path: Path, db_url: str) -> str:
    """Le Chat's commercial terms (five versions, clause events), imported into `db_url` under the registry's id."""
    shutil.copytree(corpus / "genai-eu" / "Le Chat" / "Commercial Terms",
                    tmp_path / "dataset" / "Le Chat" / "Commercial Terms")
    assert clausewatch("--db", db_url, "import", str(tmp_path / "dataset"), cwd=tmp_path).returncode == 0
    return db_url


def test_a_bad_source_entry_names_every_mistake_with_its_brackets(tmp_path: Path) -> None:
    write_sources(tmp_path, {**SOURCE, "id": "Bad ID", "url": "notaurl"})
    done = clausewatch("sources", "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert "field 'id': String should match pattern '^[a-z0-9][a-z0-9._-]*$'" in done.stderr
    assert "field 'url': 'notaurl' is not an http(s) URL" in done.stderr
    assert "more)" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_table_cells_keep_their_brackets(tmp_path: Path) -> None:
    write_sources(tmp_path, SOURCE)
    done = clausewatch("sources", cwd=tmp_path)
    assert "Terms [draft]" in done.stdout


def test_a_route_naming_an_unknown_source_is_refused(tmp_path: Path) -> None:
    write_sources(tmp_path, SOURCE)
    (tmp_path / "clausewatch.yaml").write_text(yaml.safe_dump({
        "channels": {"file": {"kind": "jsonl", "path": "out.jsonl"}},
        "routes": [{"name": "team", "channels": ["file"], "sources": ["good-terms", "gooood-terms"]}]}))
    done = clausewatch("run", "--once", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: clausewatch.yaml:6: route 'team': field 'sources': no source "
                                   "'gooood-terms' in sources.yaml")
    assert not list(tmp_path.glob("*.db"))  # refused before anything ran


@pytest.mark.parametrize("name", ["history.jsonl", "history.jsonl.gz", "history.zip"])
def test_a_truncated_export_says_it_is_truncated(history_db: str, tmp_path: Path, db_url: str, name: str) -> None:
    fmt = ["--format", "csv"] if name.endswith(".zip") else []
    assert clausewatch("--db", history_db, "export", *fmt, "-o", name, cwd=tmp_path).returncode == 0
    whole = (tmp_path / name).read_bytes()
    (tmp_path / f"cut-{name}").write_bytes(whole[: len(whole) // 2])
    target = f"sqlite:///{tmp_path / 'target.db'}"
    done = clausewatch("--db", target, "import-export", f"cut-{name}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cut-{name}: ") and "truncated" in done.stderr, done.stderr
    assert "Aborted" not in done.stderr


def test_a_truncated_export_read_from_stdin_says_it_is_truncated(history_db: str, tmp_path: Path) -> None:
    assert clausewatch("--db", history_db, "export", "-o", "h.jsonl.gz", cwd=tmp_path).returncode == 0
    text = gzip.decompress((tmp_path / "h.jsonl.gz").read_bytes())
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", f"sqlite:///{tmp_path / 't.db'}",
                           "import-export", "-"], input=text[: len(text) // 2], capture_output=True, cwd=tmp_path)
    assert done.returncode == 2 and b"the export is truncated" in done.stderr, done.stderr


def test_check_source_exits_1_for_each_kind_of_problem(tmp_path: Path) -> None:
    write_sources(tmp_path, {**SOURCE, "expect": "Terms of Use"})
    (tmp_path / "short.html").write_text("<html><body><p>Hello</p></body></html>")
    (tmp_path / "other.html").write_text("<html><body><p>" + "Something else entirely. " * 40 + "</p></body></html>")
    for args in (["--file", "short.html"], ["--file", "other.html"], []):  # too short, expect missing, no server
        done = clausewatch("check-source", "good-terms", *args, cwd=tmp_path)
        assert done.returncode == 1 and "problem:" in done.stderr, (args, done.stdout, done.stderr)


def test_history_of_an_unknown_clause_is_a_usage_error(history_db: str, tmp_path: Path) -> None:
    done = clausewatch("--db", history_db, "history", "mistral-commercial-terms", "--clause", "BOGUS", cwd=tmp_path)
    assert done.returncode == 2
    assert "has no clause 'BOGUS'" in done.stderr and done.stdout == ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_on_a_port_in_use_says_so_before_serving(history_db: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = clausewatch("--db", history_db, "serve", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 5
    assert done.stderr.strip().startswith(f"error: cannot listen on 127.0.0.1:{port}: the port is in use")
    assert "serving" not in done.stdout


def test_serve_stops_cleanly_on_sigterm(history_db: str, tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", history_db, "serve", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving the history site" in server.stdout.readline()
        for _ in range(100):  # the socket is listening before the line; the app may take a moment
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                    assert page.status == 200
                break
            except OSError:
                time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, stderr
    assert "leaked" not in stderr and "Traceback" not in stderr
    assert "stopped" in stdout


def test_check_source_problems_keep_their_brackets(tmp_path: Path) -> None:
    write_sources(tmp_path, {**SOURCE, "select": ['[role="main"]']})
    (tmp_path / "page.html").write_text("<html><body><nav>Home</nav><p>Hello</p></body></html>")
    done = clausewatch("check-source", "good-terms", "--file", "page.html", cwd=tmp_path)
    assert done.returncode == 1 and """selector '[role="main"]' matched nothing""" in done.stderr, done.stderr
