"""Use subscriptions: a route of clausewatch.yaml that names uses gets a message, through the outbox, only when a
new version changes one of those uses' answers (old answer, new answer, the clause diff); on both backends, with
the real Llama 3 and 3.1 licences and a real OpenAI reword."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.alerts.config import parse_alerts_config
from monitor.alerts.render import message_html, message_text, subject
from monitor.alerts.base import Message
from monitor.errors import ConfigError
from monitor.pipeline import Recorder, ingest_file
from monitor.sources import Source
from monitor.store import Notification, connect, session_scope
from monitor.store.db import ensure_database

LLAMA = "licenses-lineage/Meta Llama/Community License"
CONFIG = """\
channels:
  compliance: {{kind: jsonl, path: "{compliance}"}}
  everything: {{kind: jsonl, path: "{everything}"}}
routes:
  - name: can-we
    channels: [compliance]
    uses: [distil-competitor, internal-classifier]
  - name: all-changes
    channels: [everything]
    directions: [tightened, loosened, reworded, unclear]
"""
LICENCE = Source(id="llama-license", provider="Meta", title="Llama Community License",
                 url="https://example.com/llama/license", kind="license", format="markdown")


def _config(tmp_path: Path, text: str | None = None):  # type: ignore[no-untyped-def]
    text = text or CONFIG.format(compliance=tmp_path / "compliance.jsonl", everything=tmp_path / "everything.jsonl")
    return parse_alerts_config(tmp_path / "clausewatch.yaml", text, environ={})


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_route_names_only_known_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAUSEWATCH_USES", raising=False)
    text = "channels:\n  a: {kind: jsonl}\nroutes:\n  - name: r\n    channels: [a]\n    uses: [no-such-use]\n"
    with pytest.raises(ConfigError, match=r"clausewatch.yaml:4: route 'r': field 'uses': no use 'no-such-use' in "
                                          r".*uses.yaml \(uses: distil-competitor, "):
        _config(tmp_path, text)
    config = _config(tmp_path)
    assert config.routes[0].uses == ["distil-competitor", "internal-classifier"]
    event = {"source": "s", "provider": "p", "categories": ["output_training"], "direction": "tightened"}
    assert config.routes_for_event(event) == {"everything": "immediate"}  # the use route takes no clause events


def _licence_recorder(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """A recorder for the Llama licence with the subscribing routes, run where no ./uses.yaml is."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAUSEWATCH_USES", raising=False)
    engine = connect(db_url)
    ensure_database(engine)
    recorder = Recorder(engine, alerts=_config(tmp_path))
    recorder.sync_sources([LICENCE])
    return recorder


def test_an_answer_change_reaches_the_subscribers_through_the_outbox(corpus: Path, tmp_path: Path, db_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _licence_recorder(tmp_path, db_url, monkeypatch)
    for name in ("2024-04-15T00-00-00Z.md", "2024-07-08T00-00-00Z.md"):  # Llama 3, then Llama 3.1
        at = dt.datetime.fromisoformat(name[:10]).replace(tzinfo=dt.timezone.utc)
        ingest_file(recorder, LICENCE, str(corpus / LLAMA / name), at)

    messages = _lines(tmp_path / "compliance.jsonl")
    assert [(m["use"], m["old"]["answer"], m["new"]["answer"]) for m in messages] == [
        ("distil-competitor", "forbidden", "conditional")]  # the internal classifier's answer did not change
    message = messages[0]
    assert message["type"] == "answer_change" and message["version"] == 2
    assert message["observed_at"] == "2024-07-08T00:00:00Z"
    assert any("“Llama” at the beginning" in condition for condition in message["new"]["conditions"])
    assert "1(b)(v)" in message["old"]["reason"]
    removed = [change for change in message["changes"] if "improve any other large language model" in
               change["before"]]
    assert removed and any(op == -1 for op, _ in removed[0]["diff"])
    assert all("type" not in event for event in _lines(tmp_path / "everything.jsonl"))  # the clause events

    with session_scope(recorder.engine) as session:
        rows = session.execute(select(Notification).where(Notification.type == "answer_change")).scalars().all()
        assert [(row.channel, row.status, row.source_id) for row in rows] == [("compliance", "sent", "llama-license")]
        keys = {row.key for row in session.execute(select(Notification)).scalars()}
    assert len(keys) == len(_lines(tmp_path / "everything.jsonl")) + 1

    text = message_text(Message(id="m1", items=(message,), channel="compliance"))
    assert text.startswith("ANSWER CHANGED: distil-competitor · Meta · Llama Community License: forbidden → "
                           "conditional")
    assert "[-" in text and "Before: forbidden" in text
    assert "distil-competitor" in message_html(Message(id="m1", items=(message,), channel="compliance"))
    notice = {"type": "source_failing", "source": "s", "failures_in_a_row": 3}
    assert subject(Message(id="m2", items=(message, message, notice), channel="c")) == (
        "[ClauseWatch] 2 answer changes; 1 source notices")


def test_a_reworded_version_sends_subscribers_nothing(corpus: Path, tmp_path: Path, db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _licence_recorder(tmp_path, db_url, monkeypatch)
    # Llama 3.1 then 3.2: the licence is renumbered and renamed, the rules and the answers stay
    for name in ("2024-07-08T00-00-00Z.md", "2024-09-25T00-00-00Z.md"):
        at = dt.datetime.fromisoformat(name[:10]).replace(tzinfo=dt.timezone.utc)
        outcome = ingest_file(recorder, LICENCE, str(corpus / LLAMA / name), at)
    assert outcome.version_seq == 2
    assert _lines(tmp_path / "compliance.jsonl") == []


def test_alerts_channels_shows_what_a_use_route_gets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAUSEWATCH_USES", raising=False)
    config = tmp_path / "clausewatch.yaml"
    config.write_text(CONFIG.format(compliance=tmp_path / "c.jsonl", everything=tmp_path / "e.jsonl"))
    done = CliRunner().invoke(cli, ["--config", str(config), "alerts", "channels"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "answer changes: distil-competitor, internal-classifier" in done.output
