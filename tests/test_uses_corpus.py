"""Uses on real clauses: the expected answers of tests/data/use-answers.yaml (written by reading the corpus),
checked against documents imported into a temporary database, on SQLite and on PostgreSQL, as of dates before
and after the real changes; and the dates on which the answers changed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import cli
from monitor.timestamps import parse_time
from monitor.store import connect, session_scope
from monitor.uses.model import load_uses, parse_uses
from monitor.uses.queries import answer_history, answers_as_of

DATA = yaml.safe_load((Path(__file__).parent / "data" / "use-answers.yaml").read_text(encoding="utf-8"))
EXTRA_USES = {use.id: use for use in parse_uses(Path("use-answers.yaml"), yaml.safe_dump({"uses": DATA["uses"]}))}
USES = {use.id: use for use in load_uses()[1]} | EXTRA_USES


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['use']}@{case['source']}@{case['at']}"


@pytest.fixture(scope="module")
def corpus_db(corpus: Path, tmp_path_factory: pytest.TempPathFactory, module_db_url: str) -> str:
    """The documents the cases need (only the listed versions), imported with `clausewatch import`."""
    dataset = tmp_path_factory.mktemp("uses") / "dataset"
    for folder, files in DATA["documents"].items():
        service, terms_type = Path(folder).parts[-2:]
        target = dataset / service / terms_type
        target.mkdir(parents=True)
        for name in files:
            shutil.copy(corpus / folder / name, target / name)
    no_sources = str(Path(__file__).resolve().parent / "data" / "no-sources.yaml")  # keep the folder names
    done = CliRunner().invoke(cli, ["--db", module_db_url, "--sources", no_sources, "import", str(dataset)])
    assert done.exit_code == 0, done.output
    return module_db_url


@pytest.mark.parametrize("case", DATA["cases"], ids=_case_id)
def test_answer_of_a_real_document(corpus_db: str, case: dict[str, Any]) -> None:
    use = USES[case["use"]]
    with session_scope(connect(corpus_db)) as session:
        rows = answers_as_of(session, use, parse_time(str(case["at"])), source_id=case["source"])
    assert len(rows) == 1, rows
    row = rows[0]
    context = f"{case['why']}\ngot: {json.dumps(row, indent=1, ensure_ascii=False)}"
    assert row["answer"] == case["answer"], context
    paths = [clause["path"] for clause in row["clauses"]]
    for path in case.get("clauses", []):
        assert path in paths, context
    definitions = [clause["path"] for clause in row["clauses"] if clause["role"] == "definition"]
    for path in case.get("definitions", []):
        assert path in definitions, context
    for words in case.get("conditions", []):
        assert any(words in condition for condition in row["conditions"]), f"{words!r} missing\n{context}"
    for words in case.get("no_conditions", []):
        assert not any(words in condition for condition in row["conditions"]), f"{words!r} present\n{context}"
    if row["answer"] != "conditional":
        assert row["conditions"] == []
    assert row["reason"]


@pytest.mark.parametrize("expected", DATA["histories"], ids=lambda h: f"{h['use']}@{h['source']}")
def test_dates_an_answer_changed(corpus_db: str, expected: dict[str, Any]) -> None:
    with session_scope(connect(corpus_db)) as session:
        rows = answer_history(session, USES[expected["use"]], source_id=expected["source"])
    changes = [[change["observed_at"][:10], change["answer"]] for change in rows[0]["changes"]]
    assert changes == [[str(day), answer] for day, answer in expected["changes"]]


def test_can_json_shape_through_the_cli(corpus_db: str) -> None:
    done = CliRunner().invoke(cli, ["--db", corpus_db, "can", "internal-classifier", "--provider", "chatgpt",
                                    "--at", "2026-12-02", "--json"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert [row["source"] for row in rows] == ["chatgpt-commercial-terms"]
    row = rows[0]
    assert {"source", "provider", "title", "answer", "version", "observed_at", "clauses", "conditions"} <= set(row)
    assert row["provider"] == "ChatGPT" and row["version"] == 1 and row["observed_at"] == "2026-08-22T10:30:58Z"
    assert all({"key", "path", "text"} <= set(clause) for clause in row["clauses"])
    definition = next(clause for clause in row["clauses"] if clause["role"] == "definition")
    assert definition["text"].startswith("“Permitted Exception” means")
    assert all(isinstance(condition, str) for condition in row["conditions"])


def test_can_history_through_the_cli(corpus_db: str) -> None:
    done = CliRunner().invoke(cli, ["--db", corpus_db, "can", "distil-competitor", "--source",
                                    "meta-llama-community-license", "--history", "--json"])
    assert done.exit_code == 0, done.output
    changes = json.loads(done.stdout)[0]["changes"]
    assert [(change["observed_at"][:10], change["previous"], change["answer"]) for change in changes] == [
        ("2023-07-21", None, "forbidden"), ("2024-07-08", "forbidden", "conditional")]
    assert changes[1]["clauses"][0]["text"].startswith("If you use the Llama Materials or any outputs")


def test_documents_not_yet_recorded_on_the_date_are_left_out(corpus_db: str) -> None:
    with session_scope(connect(corpus_db)) as session:
        rows = answers_as_of(session, USES["internal-classifier"], dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    assert {row["source"] for row in rows} == {"meta-llama-community-license"}
