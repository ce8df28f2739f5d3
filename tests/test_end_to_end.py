"""End to end through the real CLI: a local server serves real snapshots that change between cycles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import func, select

from monitor.store import ChangeEvent, FetchAttempt, Snapshot, Version, connect
from monitor.store.models import Base

REPO = Path(__file__).resolve().parent.parent
LE_CHAT_URL = "https://legal.mistral.ai/terms/eu-consumers-terms-of-service"
LE_CHAT_DIR = "genai-eu-snapshots/Le Chat/Terms of Service"
# Real snapshots: the first two carry the same terms in different raw HTML, the third is the rewrite
# of 15 December 2025.
FIRST, SAME_TERMS, CHANGED = "2025-11-11T15-33-06Z.html", "2025-11-28T11-35-32Z.html", "2025-12-15T23-34-51Z.html"


def clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def shipped_source(url: str) -> dict:
    """The entry of the shipped sources.yaml for this URL: the test uses its real selectors."""
    for entry in yaml.safe_load((REPO / "sources.yaml").read_text())["sources"]:
        if entry["url"] == url:
            return entry
    raise AssertionError(f"sources.yaml has no entry for {url}")


def local_sources(tmp_path: Path, url: str, local_url: str) -> dict:
    entry = {**shipped_source(url), "url": local_url, "allow_private": True, "respect_robots": False}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))
    return entry


def row_counts(db_url: str) -> dict[str, int]:
    engine = connect(db_url)
    with engine.connect() as connection:
        counts = {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in Base.metadata.sorted_tables}
    engine.dispose()
    return counts


def alert_lines(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_three_cycles_version_then_nothing_then_one_change(db_url, local_server, corpus, tmp_path) -> None:
    snapshots = corpus / LE_CHAT_DIR
    entry = local_sources(tmp_path, LE_CHAT_URL, local_server.url("/terms"))
    source_id = entry["id"]
    assert clausewatch("--db", db_url, "init", cwd=tmp_path).returncode == 0

    local_server.serve("/terms", (snapshots / FIRST).read_bytes())
    first = clausewatch("--db", db_url, "run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new versions 1" in first.stdout
    assert alert_lines(tmp_path) == []

    local_server.serve("/terms", (snapshots / SAME_TERMS).read_bytes())
    before = row_counts(db_url)
    second = clausewatch("--db", db_url, "run", "--once", cwd=tmp_path)
    assert second.returncode == 0 and "new versions 0" in second.stdout, second.stdout + second.stderr
    after = row_counts(db_url)
    assert after["version"] == before["version"] == 1
    assert after["change_event"] == before["change_event"] == 0
    assert alert_lines(tmp_path) == []

    local_server.serve("/terms", (snapshots / CHANGED).read_bytes())
    third = clausewatch("--db", db_url, "run", "--once", cwd=tmp_path)
    assert third.returncode == 0 and "new versions 1" in third.stdout, third.stdout + third.stderr
    counts = row_counts(db_url)
    assert counts["version"] == 2

    engine = connect(db_url)
    with engine.connect() as connection:
        events = connection.execute(select(ChangeEvent)).all()
    engine.dispose()
    # one new version; its clause events are what alerts (tightened and unclear ones)
    assert events, "the December 2025 rewrite changed watched clauses"
    alerts = alert_lines(tmp_path)
    assert len(alerts) == sum(1 for event in events if event.alert) >= 1
    assert all(alert["direction"] in ("tightened", "unclear") for alert in alerts)
    assert all(alert["source"] == source_id and alert["version"] == 2 for alert in alerts)
    # API keys were brought under the credential-sharing ban
    assert any("API keys" in alert["after"] and alert["direction"] == "tightened" for alert in alerts)

    diff = clausewatch("--db", db_url, "diff", source_id, "--format", "json", cwd=tmp_path)
    assert diff.returncode == 0
    inserted = " ".join(chunk for op, chunk in json.loads(diff.stdout)["diff"] if op == 1)
    assert "API keys" in inserted
    assert (snapshots / FIRST).read_bytes() != (snapshots / SAME_TERMS).read_bytes()


def test_unchanged_fetch_adds_one_attempt_row_and_nothing_else(db_url, local_server, corpus, tmp_path) -> None:
    body = (corpus / LE_CHAT_DIR / SAME_TERMS).read_bytes()
    local_sources(tmp_path, LE_CHAT_URL, local_server.url("/terms"))
    local_server.serve("/terms", body)
    assert clausewatch("--db", db_url, "run", "--once", cwd=tmp_path).returncode == 0
    before = row_counts(db_url)
    assert clausewatch("--db", db_url, "run", "--once", cwd=tmp_path).returncode == 0
    after = row_counts(db_url)
    assert after == {**before, "fetch_attempt": before["fetch_attempt"] + 1}


def test_ingest_is_exactly_a_fetch_of_the_same_bytes(local_server, corpus, tmp_path) -> None:
    snapshot = corpus / LE_CHAT_DIR / SAME_TERMS
    entry = local_sources(tmp_path, LE_CHAT_URL, local_server.url("/terms"))
    local_server.serve("/terms", snapshot.read_bytes())
    fetched, ingested = f"sqlite:///{tmp_path / 'fetched.db'}", f"sqlite:///{tmp_path / 'ingested.db'}"
    assert clausewatch("--db", fetched, "run", "--once", cwd=tmp_path).returncode == 0
    done = clausewatch("--db", ingested, "ingest", entry["id"], str(snapshot), "--at", "2025-12-08T23:34:52Z",
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    def recorded(db_url: str) -> tuple:
        engine = connect(db_url)
        with engine.connect() as connection:
            version = connection.execute(select(Version.text, Version.text_sha256)).one()
            snapshot_sha = connection.execute(select(Snapshot.sha256)).scalar_one()
            outcome = connection.execute(select(FetchAttempt.outcome)).scalar_one()
            clauses = connection.execute(select(Base.metadata.tables["clause"].c.key,
                                                Base.metadata.tables["clause"].c.text)).all()
        engine.dispose()
        return tuple(version), snapshot_sha, outcome, sorted(clauses)

    assert recorded(fetched) == recorded(ingested)


def test_ingest_unknown_source_is_a_clear_error(tmp_path, corpus) -> None:
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [shipped_source(LE_CHAT_URL)]}))
    done = clausewatch("ingest", "no-such-source", str(corpus / LE_CHAT_DIR / FIRST), cwd=tmp_path)
    assert done.returncode == 2 and "no-such-source" in done.stderr
