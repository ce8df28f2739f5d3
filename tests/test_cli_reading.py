"""Read commands and a database that is not there (a mistyped --db is an error, exit 3, and creates nothing;
--db "" is a usage error), and `diff --format html` (the command-line contract of the architecture)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

CLAUSEWATCH = str(Path(sys.executable).parent / "clausewatch")
SOURCE = "le-chat-acceptable-use-policy"
READ_COMMANDS = [["clauses"], ["changes"], ["history", SOURCE], ["diff", SOURCE], ["show", SOURCE], ["matrix"],
                 ["trends"], ["export", "-o", "out.jsonl"], ["prune", "--attempts-older-than", "90d"],
                 ["serve", "--port", "1"]]


# imported history keeps its folder names: no registry entry takes it over
NO_SOURCES = str(Path(__file__).resolve().parent / "data" / "no-sources.yaml")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CLAUSEWATCH_")}
    return subprocess.run([CLAUSEWATCH, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", READ_COMMANDS, ids=[c[0] for c in READ_COMMANDS])
def test_a_read_command_on_a_missing_sqlite_file_says_so(tmp_path: Path, command: list[str]) -> None:
    done = cli("--db", "sqlite:///typo.db", *command, cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: no database at 'typo.db': check --db / CLAUSEWATCH_DB, or create it with `clausewatch init`"]
    assert list(tmp_path.iterdir()) == []


def test_health_calls_a_missing_database_unhealthy_without_creating_it(tmp_path: Path) -> None:
    done = cli("--db", "sqlite:///typo.db", "health", cwd=tmp_path)
    assert done.returncode == 6 and "no database at 'typo.db'" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_an_empty_db_option_is_a_usage_error(tmp_path: Path) -> None:
    for command in (["clauses"], ["init"]):
        done = cli("--db", "", *command, cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith("error: --db is empty") and len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_writing_commands_still_create_the_database(tmp_path: Path, corpus: Path) -> None:
    done = cli("--db", "sqlite:///made-by-init.db", "init", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "made-by-init.db").is_file()
    history = _slice(corpus, tmp_path)
    done = cli("--db", "sqlite:///made-by-import.db", "--sources", NO_SOURCES, "import", str(history), cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "made-by-import.db").is_file()
    done = cli("--db", "sqlite:///made-by-import.db", "clauses", "--json", cwd=tmp_path)
    assert done.returncode == 0 and SOURCE in done.stdout


def _slice(corpus: Path, tmp_path: Path) -> Path:
    """One document of the real corpus (three versions of Le Chat's acceptable use policy)."""
    history = tmp_path / "slice"
    shutil.copytree(corpus / "genai-eu" / "Le Chat" / "Acceptable Use Policy",
                    history / "Le Chat" / "Acceptable Use Policy")
    return history


def test_diff_as_html_is_the_sites_diff_page(tmp_path: Path, corpus: Path, db_url: str) -> None:
    assert cli("--db", db_url, "--sources", NO_SOURCES, "import", str(_slice(corpus, tmp_path)),
               cwd=tmp_path).returncode == 0
    done = cli("--db", db_url, "diff", SOURCE, "--from", "1", "--to", "2", "--format", "html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = done.stdout
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "version 1 → version 2" in page and "<h2 id=\"words\">Word diff</h2>" in page
    assert page.count("<ins>") + page.count("<del>") > 0
    assert "<style>" in page and 'rel="stylesheet"' not in page  # one file, readable on its own
    as_json = cli("--db", db_url, "diff", SOURCE, "--from", "1", "--to", "2", "--format", "json", cwd=tmp_path)
    inserted = [chunk.strip() for op, chunk in json.loads(as_json.stdout)["diff"] if op == 1 and chunk.strip()]
    assert inserted and all(str(escape(chunk.splitlines()[0])) in page for chunk in inserted)
    same = cli("--db", db_url, "diff", SOURCE, "--from", "2", "--to", "2", "--format", "html", cwd=tmp_path)
    assert "No difference" in same.stdout


def test_the_commands_that_create_a_database_exist() -> None:
    import click

    from monitor.cli import CREATING_COMMANDS, cli as group

    # list_commands also loads the commands that run --once does not import (LAZY_COMMANDS).
    assert CREATING_COMMANDS <= set(group.list_commands(click.Context(group)))
    assert not {"clauses", "changes", "history", "diff", "show", "serve", "export", "health"} & CREATING_COMMANDS
