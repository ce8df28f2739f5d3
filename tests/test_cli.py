"""Commands through the real CLI: reextract, check-source, history, clauses, and --help for every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import cli

TERMS = """<html><head><title>Terms</title></head><body>
<nav>Home | Pricing | Log in</nav>
<main><h1>Terms of Use</h1>
<h2>3. Restrictions</h2>
<p>You may not:</p>
<ol type="a">
<li>use Output to develop models that compete with Example, except for a Permitted Exception;</li>
<li>reverse engineer, decompile or disassemble the Services;</li>
<li>use any automated means to scrape data from the Services.</li>
</ol>
<h2>4. Changes</h2><p>{filler}</p>
</main><footer>Cookie settings</footer></body></html>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 5


def clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write_sources(tmp_path: Path, url: str, **fields: object) -> None:
    entry = {"id": "example-terms", "provider": "Example", "title": "Terms of Use", "url": url,
             "select": ["main"], "allow_private": True, "respect_robots": False, **fields}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))


def test_reextract_after_a_selector_change_makes_a_technical_version_without_alerts(local_server, tmp_path: Path,
                                                                                     db_url: str) -> None:
    local_server.serve("/terms", TERMS.format(filler=FILLER))
    write_sources(tmp_path, local_server.url("/terms"), select=["body"])  # the nav and footer leak in
    assert clausewatch("--db", db_url, "run", "--once", cwd=tmp_path).returncode == 0
    write_sources(tmp_path, local_server.url("/terms"), select=["main"])
    done = clausewatch("--db", db_url, "reextract", cwd=tmp_path)
    assert done.returncode == 0 and "example-terms: technical version 2" in done.stdout
    history = json.loads(clausewatch("--db", db_url, "history", "example-terms", "--json",
                                     cwd=tmp_path).stdout)
    assert [v["technical"] for v in history["versions"]] == [False, True]
    assert all(not e["alert"] for e in history["events"])
    assert not (tmp_path / "alerts.jsonl").exists()
    again = clausewatch("--db", db_url, "reextract", cwd=tmp_path)
    assert "technical version" not in again.stdout  # nothing new the second time


def test_check_source_shows_what_would_be_extracted(local_server, tmp_path: Path) -> None:
    local_server.serve("/terms", TERMS.format(filler=FILLER))
    write_sources(tmp_path, local_server.url("/terms"), expect="Terms of Use")
    done = clausewatch("check-source", "example-terms", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fetch: ok 200" in done.stdout and "# Terms of Use" in done.stdout
    assert "output_training" in done.stdout and "reverse_engineering" in done.stdout
    assert "Log in" not in done.stdout and "Cookie" not in done.stdout
    assert not list(tmp_path.glob("*.db"))  # stores nothing

    write_sources(tmp_path, local_server.url("/terms"), select=["article.terms"])
    done = clausewatch("check-source", "example-terms", cwd=tmp_path)
    assert done.returncode == 1 and "matched nothing" in done.stderr


def test_unknown_source_and_bad_time_are_clear_errors(tmp_path: Path) -> None:
    write_sources(tmp_path, "https://example.com/terms")
    db = f"sqlite:///{tmp_path / 'cw.db'}"
    assert clausewatch("--db", db, "init", cwd=tmp_path).returncode == 0  # read commands need the database
    done = clausewatch("--db", db, "history", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "no source 'nope'" in done.stderr
    done = clausewatch("--db", db, "changes", "--since", "last tuesday", cwd=tmp_path)
    assert done.returncode == 2 and "not a date" in done.stderr
    done = clausewatch("--db", db, "clauses", "--category", "nonsense", cwd=tmp_path)
    assert done.returncode == 2 and "unknown category" in done.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    done = clausewatch("--db", "postgresql://nobody@127.0.0.1:1/none", "changes", cwd=tmp_path)
    assert done.returncode == 3 and "error:" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _commands(group=cli, prefix=()):  # type: ignore[no-untyped-def]
    for name, command in group.commands.items():
        yield (*prefix, name), command


@pytest.mark.parametrize("path,command", list(_commands()), ids=lambda p: " ".join(p) if isinstance(p, tuple) else "")
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert command.help and ("Example" in result.output or path == ("sources",) and "Examples" in result.output)


def test_every_command_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for path, _ in _commands():
        assert f"clausewatch {' '.join(path)}" in readme, f"README does not mention `clausewatch {' '.join(path)}`"


def test_sources_check_live_fetches_each_source_once_and_says_what_failed(local_server, tmp_path: Path) -> None:
    local_server.serve("/terms", TERMS.format(filler=FILLER))
    sources = [{"id": "good-terms", "provider": "Example", "title": "Terms of Use", "url": local_server.url("/terms"),
                "select": ["main"], "expect": "Terms of Use", "allow_private": True, "respect_robots": False},
               {"id": "gone-terms", "provider": "Example", "title": "Old Terms", "url": local_server.url("/gone"),
                "select": ["main"], "allow_private": True, "respect_robots": False}]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    done = clausewatch("sources", "--check", "--live", cwd=tmp_path)
    assert done.returncode == 1
    assert "1 ok, 1 failed" in done.stdout
    good_row = next(line for line in done.stdout.splitlines() if "good-terms" in line)
    assert "ok" in good_row and "output_training" in good_row
    assert "http_error" in done.stdout and "404" in done.stdout
    assert not list(tmp_path.glob("*.db"))
    assert sum(1 for method, path, _ in local_server.requests if path in ("/terms", "/gone")) == 2
