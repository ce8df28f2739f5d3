"""The history commands (show, matrix, trends, site, serve) on a database built from a slice of the real corpus."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from test_web import EXAMPLE, LE_CHAT, build_dataset, import_dataset


@pytest.fixture(scope="module")
def db(corpus: Path, tmp_path_factory: pytest.TempPathFactory, module_db_url: str) -> str:
    folder = tmp_path_factory.mktemp("cliweb")
    import_dataset(module_db_url, build_dataset(corpus, folder))
    return module_db_url


def run(db: str, *args: str) -> str:
    done = CliRunner().invoke(cli, ["--db", db, *args], env={"COLUMNS": "240"})
    assert done.exit_code == 0, done.output
    return done.output


def test_show_prints_the_version_in_force_on_a_date_with_its_evidence(db: str) -> None:
    out = run(db, "show", EXAMPLE, "--at", "2026-01-01")
    assert "version 1 of 2" in out and "as of 2026-01-01" in out
    assert "except for a Permitted Exception" in out and "raw snapshot sha256" in out and "cite:" in out
    latest = json.loads(run(db, "show", EXAMPLE, "--json"))
    assert latest["version"]["seq"] == 2 and "Permitted Exception" not in latest["version"]["text"]
    assert "Example AI" in run(db, "show", EXAMPLE, "--clauses-only")


def test_show_errors_are_one_line(db: str) -> None:
    done = CliRunner().invoke(cli, ["--db", db, "show", "nope"])
    assert done.exit_code == 2 and "no source 'nope'" in done.output
    done = CliRunner().invoke(cli, ["--db", db, "show", EXAMPLE, "--at", "1999-01-01"])
    assert done.exit_code == 2 and "no version on or before 1999-01-01" in done.output
    done = CliRunner().invoke(cli, ["--db", db, "show", EXAMPLE, "--at", "last week"])
    assert done.exit_code == 2 and "not a date" in done.output


def test_matrix_shows_who_restricts_what_and_since_when(db: str) -> None:
    out = run(db, "matrix", "-c", "output_training")
    assert "Example AI — Terms of Service" in out and "since ≤2025-11-02" in out and "▲ tightened" in out
    before = json.loads(run(db, "matrix", "--at", "2025-12-01", "--json"))
    row = next(r for r in before["rows"] if r["source"] == EXAMPLE)
    assert row["seq"] == 1 and row["cells"]["output_training"]["last_change"] is None
    done = CliRunner().invoke(cli, ["--db", db, "matrix", "-c", "nonsense"])
    assert done.exit_code == 2 and "unknown category" in done.output


def test_trends_by_provider_and_category(db: str) -> None:
    out = run(db, "trends")
    assert "2026-02" in out and "▲" in out
    by_provider = run(db, "trends", "--by", "provider")
    assert "Example AI" in by_provider and "Le Chat" in by_provider
    data = json.loads(run(db, "trends", "--by", "category", "--json"))
    assert "by_category" in data and "by_provider" not in data


def test_site_command_writes_a_static_site(db: str, tmp_path: Path) -> None:
    out = run(db, "site", str(tmp_path / "public"), "--no-json")
    assert "pages" in out and "feeds" in out
    assert (tmp_path / "public" / "index.html").is_file()
    assert (tmp_path / "public" / "sources" / LE_CHAT / "index.html").is_file()
    assert not (tmp_path / "public" / "api").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_the_chosen_port(db: str) -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", db, "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/matrix", timeout=5) as response:
                    data = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert any(row["source"] == EXAMPLE for row in data["rows"])
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("command", ["serve", "site", "show", "matrix", "trends"])
def test_help_has_an_example(command: str) -> None:
    done = CliRunner().invoke(cli, [command, "--help"])
    assert done.exit_code == 0 and "Example" in done.output and f"clausewatch {command}" in done.output
