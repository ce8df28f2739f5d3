"""The "Can we…?" pages and their /api mirrors, over real documents imported on SQLite and PostgreSQL: the form's
answers table, the as-of date, a use's permalink with its history, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from monitor.store import connect
from test_uses_corpus import corpus_db  # noqa: F401  (the imported documents, one database per backend)


@pytest.fixture(scope="module")
def client(corpus_db: str) -> Iterator[TestClient]:  # noqa: F811
    from monitor.web import create_app

    with TestClient(create_app(connect(corpus_db))) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def shipped_uses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./uses.yaml: the shipped examples
    monkeypatch.delenv("CLAUSEWATCH_USES", raising=False)


CLASSIFIER = "act=train&object=outputs&model=classifier&purpose=internal&distribution=internal"


def test_the_form_answers_for_every_document(client: TestClient) -> None:
    data = client.get(f"/api/can?{CLASSIFIER}").json()
    answers = {row["source"]: row for row in data["answers"]}
    assert answers["chatgpt-commercial-terms"]["answer"] == "conditional"
    assert answers["deepseek-terms-of-service"]["answer"] == "allowed"
    assert data["summary"]["conditional"] >= 3 and data["use"]["describe"].startswith("train a classifier")
    page = client.get(f"/can?{CLASSIFIER}")
    assert page.status_code == 200
    assert 'href="/sources/chatgpt-commercial-terms/clauses/' in page.text
    assert "“Permitted Exception” means Customer using Output to" in page.text  # the definition, quoted
    assert "not distributed or made commercially available to third parties" in page.text
    assert '<option selected>classifier</option>' in page.text


def test_the_form_as_of_a_date(client: TestClient) -> None:
    before = client.get("/api/can?act=distil&object=outputs&model=llm&purpose=competing&at=2024-07-01").json()
    after = client.get("/api/can?act=distil&object=outputs&model=llm&purpose=competing&at=2024-07-09").json()
    answer = lambda data: next(r for r in data["answers"] if r["source"] == "meta-llama-community-license")  # noqa
    assert (answer(before)["answer"], answer(after)["answer"]) == ("forbidden", "conditional")
    assert before["at"] == "2024-07-01" and "as of 2024-07-01" in client.get(
        "/can?act=distil&object=outputs&at=2024-07-01").text


def test_a_use_has_a_permalink_with_its_history(client: TestClient) -> None:
    data = client.get("/api/uses/distil-competitor").json()
    assert data["use"]["id"] == "distil-competitor" and data["uses_file"] == "the shipped examples"
    llama = next(row for row in data["changed"] if row["source"] == "meta-llama-community-license")
    assert [(c["observed_at"][:10], c["answer"]) for c in llama["changes"]] == [
        ("2023-07-21", "forbidden"), ("2024-07-08", "conditional")]
    page = client.get("/uses/distil-competitor?at=2024-07-01")
    assert page.status_code == 200 and "as of 2024-07-01" in page.text
    assert "/api/uses/distil-competitor?at=2024-07-01" in page.text
    assert client.get("/can").text.count('href="/uses/') == 4


def test_bad_input_is_one_line(client: TestClient) -> None:
    missing = client.get("/api/uses/nope")
    assert missing.status_code == 404 and missing.json()["error"].startswith("no use 'nope' in the shipped examples")
    bad = client.get("/api/can?act=bake&object=outputs")
    assert bad.status_code == 400 and bad.json()["error"].startswith("field 'act': 'bake' is not one of")
    assert client.get("/can?act=train&object=outputs&at=soon").status_code == 400


def test_the_form_takes_territory_and_users(client: TestClient) -> None:
    query = "act=distil&object=outputs&model=llm&purpose=commercial&distribution=third-parties&at=2024-07-09"
    big = client.get(f"/api/can?{query}&monthly_active_users=800000000").json()
    small = client.get(f"/api/can?{query}&monthly_active_users=2000&based_in=United+States").json()
    answer = lambda data: next(r for r in data["answers"] if r["source"] == "meta-llama-community-license")  # noqa
    assert answer(big)["answer"] == "forbidden"
    assert answer(small)["answer"] == "conditional"
    assert not any("monthly active users" in condition for condition in answer(small)["conditions"])
    assert small["use"]["based_in"] == ["united states"]
    assert 'value="2000"' in client.get(f"/can?{query}&monthly_active_users=2000").text
