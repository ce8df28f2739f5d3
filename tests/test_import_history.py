"""`clausewatch import` keeps the history true: a repeat adds nothing, an overlapping slice adds only what is
missing, an older slice is put in time order with its events made again and nobody alerted; only the two
history layouts count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.store import FetchAttempt, Notification, Version, connect, session_scope

DOCUMENT = Path("Le Chat") / "Commercial Terms"  # 6 recorded versions; a tightening on 2025-12-15
SOURCE_ID = "le-chat-commercial-terms"
ALERTS = """channels:
  hook: {kind: webhook, url: "http://127.0.0.1:9/hook", secret: "${CW_SECRET}", retries: 0}
routes:
  - channels: [hook]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"CW_SECRET": "s3cret"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def slice_of(corpus: Path, folder: Path, first: int, last: int) -> Path:
    """A dataset holding versions first..last (1-based, inclusive) of the document, in file-name order."""
    files = sorted((corpus / "genai-eu" / DOCUMENT).glob("*.md"))[first - 1:last]
    (folder / DOCUMENT).mkdir(parents=True)
    for file in files:
        shutil.copy(file, folder / DOCUMENT / file.name)
    return folder


def import_(db: str, dataset: Path, tmp_path: Path) -> tuple[int, str]:
    config = tmp_path / "clausewatch.yaml"
    config.write_text(ALERTS)
    return run("--db", db, "--config", str(config), "--sources", str(tmp_path / "empty-sources.yaml"),
               "import", str(dataset))


def history(db: str) -> dict:
    code, out = run("--db", db, "history", SOURCE_ID, "--json")
    assert code == 0, out
    return json.loads(out)


def events(db: str) -> list[tuple]:
    code, out = run("--db", db, "changes", "--json")
    assert code == 0, out
    return [(e["version"], e["observed_at"], e["key"], e["kind"], e["direction"], e["alert"], e["after"])
            for e in json.loads(out)]


def counts(db: str) -> tuple[int, int, int]:
    engine = connect(db)
    with session_scope(engine) as session:
        found = tuple(session.execute(select(func.count()).select_from(table)).scalar_one()
                      for table in (FetchAttempt, Version, Notification))
    engine.dispose()
    return found  # type: ignore[return-value]


@pytest.fixture
def empty_registry(tmp_path: Path) -> None:
    (tmp_path / "empty-sources.yaml").write_text("sources: []\n")


@pytest.fixture
def whole(corpus: Path, tmp_path: Path, empty_registry: None) -> tuple[dict, list[tuple]]:
    """The history and events of the whole document imported at once, into a SQLite database of its own."""
    db = f"sqlite:///{tmp_path / 'whole.db'}"
    assert import_(db, slice_of(corpus, tmp_path / "whole", 1, 6), tmp_path)[0] == 0
    return history(db), events(db)


def test_importing_the_same_dataset_again_adds_nothing(corpus: Path, tmp_path: Path, db_url: str,
                                                       empty_registry: None) -> None:
    dataset = slice_of(corpus, tmp_path / "dataset", 1, 6)
    assert import_(db_url, dataset, tmp_path)[0] == 0
    before, stored = events(db_url), counts(db_url)
    code, out = import_(db_url, dataset, tmp_path)
    assert code == 0 and "nothing new: all 6 recorded versions of 1 documents are already stored" in out
    assert events(db_url) == before and counts(db_url) == stored
    assert stored[2] == 0  # no outbox rows


def test_an_overlapping_slice_adds_only_the_missing_versions(corpus: Path, tmp_path: Path, db_url: str,
                                                              whole: tuple[dict, list[tuple]]) -> None:
    assert import_(db_url, slice_of(corpus, tmp_path / "first", 1, 4), tmp_path)[0] == 0
    code, out = import_(db_url, slice_of(corpus, tmp_path / "last", 3, 6), tmp_path)
    assert code == 0 and "imported 2 recorded versions" in out and "2 already stored" in out
    assert counts(db_url) == (6, len(whole[0]["versions"]), 0)
    assert history(db_url)["versions"] == whole[0]["versions"] and events(db_url) == whole[1]


def test_an_older_slice_is_put_in_time_order_and_alerts_nobody(corpus: Path, tmp_path: Path, db_url: str,
                                                               whole: tuple[dict, list[tuple]]) -> None:
    assert import_(db_url, slice_of(corpus, tmp_path / "newer", 4, 6), tmp_path)[0] == 0
    code, out = import_(db_url, slice_of(corpus, tmp_path / "older", 1, 3), tmp_path)
    assert code == 0 and "imported 3 recorded versions" in out and f"time order" in out and SOURCE_ID in out
    versions = history(db_url)["versions"]
    assert [v["seq"] for v in versions] == list(range(1, len(versions) + 1))
    assert [v["observed_at"] for v in versions] == sorted(v["observed_at"] for v in versions)
    # the same versions and events as the whole history imported in order, the December tightening included
    assert versions == whole[0]["versions"] and events(db_url) == whole[1]
    assert any(e[1].startswith("2025-12-15") and e[4] == "tightened" for e in events(db_url))
    assert counts(db_url) == (6, len(versions), 0)  # every attempt once; no outbox rows


def test_a_repository_of_code_is_not_history(tmp_path: Path) -> None:
    """The project's own repository has two-level files (monitor/cli.py) but is no versions repository."""
    project = Path(__file__).resolve().parent.parent
    if not (project / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    code, out = run("--db", f"sqlite:///{tmp_path / 'cw.db'}", "import", str(project))
    assert code == 2 and "found no versions" in out
