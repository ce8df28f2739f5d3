"""The CLI's tables: ids and dates are never cut, at any width; piped, a table is plain ASCII and complete."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

BOX_DRAWING = re.compile("[\u2500-\u257f]")  # rich's box lines


def clausewatch(*args: str, cwd: Path, columns: int, terminal: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("TTY_COMPATIBLE", None)
    if terminal:
        env["TTY_COMPATIBLE"] = "1"  # rich then draws as on a terminal of that width
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def history_db(corpus: Path, tmp_path: Path, db_url: str) -> str:
    """Le Chat's commercial terms: five versions and nine clause events."""
    dataset = tmp_path / "dataset" / "Le Chat" / "Commercial Terms"
    shutil.copytree(corpus / "genai-eu" / "Le Chat" / "Commercial Terms", dataset)
    clausewatch("--db", db_url, "import", str(tmp_path / "dataset"), cwd=tmp_path, columns=80)
    return db_url


def test_piped_sources_at_120_columns_show_every_id_and_url_whole() -> None:
    done = clausewatch("sources", cwd=REPO, columns=120)
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    for source in yaml.safe_load((REPO / "sources.yaml").read_text())["sources"]:
        assert source["id"] in rows, source["id"]
        assert source["url"] in rows[source["id"]]
    assert not BOX_DRAWING.search(done.stdout) and "\x1b" not in done.stdout


def test_piped_changes_at_80_columns_show_dates_ids_and_reasons_whole(history_db: str, tmp_path: Path) -> None:
    events = json.loads(clausewatch("--db", history_db, "changes", "--json", cwd=tmp_path, columns=80).stdout)
    done = clausewatch("--db", history_db, "changes", cwd=tmp_path, columns=80)
    assert not BOX_DRAWING.search(done.stdout) and "\x1b" not in done.stdout
    assert len(events) == 9
    assert done.stdout.count("…") == json.dumps(events, ensure_ascii=False).count("…")  # none where rich cut
    for event in events:
        assert re.search(rf"\| {re.escape(event['observed_at'])} +\| {event['source']} +\| "
                         rf"{re.escape(event['path'])} ", done.stdout), event
        assert event["reason"] in done.stdout


def test_history_and_changes_on_an_80_column_terminal_keep_dates_and_ids_whole(history_db: str,
                                                                               tmp_path: Path) -> None:
    changes = clausewatch("--db", history_db, "changes", cwd=tmp_path, columns=80, terminal=True).stdout
    history = clausewatch("--db", history_db, "history", "mistral-commercial-terms", cwd=tmp_path, columns=80,
                          terminal=True).stdout
    versions = json.loads(clausewatch("--db", history_db, "history", "mistral-commercial-terms", "--json",
                                      cwd=tmp_path, columns=80).stdout)["versions"]
    assert changes.count("mistral-commercial-terms") == 9
    assert changes.count("2025-12-15T23:34:54Z") == 7
    for version in versions:
        assert version["observed_at"] in history
    assert all(len(line) <= 80 for line in re.sub(r"\x1b\[[0-9;]*m", "", changes).splitlines())
