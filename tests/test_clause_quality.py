"""bench/clause_quality.py's leave-one-provider-out selection: which sentences belong to a provider, which rules go."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import clause_quality  # noqa: E402

SCORER = clause_quality.load_scorer()
ACME_BAN = "You will not use Acme Outputs to train any other model."
OTHER_BAN = "Customer may not scrape the Services with bots or spiders."


def write(root: Path, service: str, title: str, text: str) -> None:
    folder = root / service / title
    folder.mkdir(parents=True)
    (folder / "2024-01-01T00-00-00Z.md").write_text(text, encoding="utf-8")


def test_a_sentence_belongs_to_the_provider_whose_paragraph_holds_it(tmp_path: Path) -> None:
    write(tmp_path, "Acme", "Terms of Service", "# Terms\n\n3. Restrictions.\nYou will not use Acme\nOutputs to train any other model.\n")
    write(tmp_path, "Other", "Terms of Service", "Customer may not scrape the Services with bots or spiders.\n\nOther text.\n")
    by_provider = clause_quality.provider_paragraphs([tmp_path], SCORER.tokens)
    assert clause_quality.sentence_owners(ACME_BAN, by_provider, SCORER.tokens) == {"Acme"}
    assert clause_quality.sentence_owners(OTHER_BAN, by_provider, SCORER.tokens) == {"Other"}
    # words spread over two paragraphs do not make the sentence "occur" there
    assert clause_quality.sentence_owners("Restrictions other text scrape", by_provider, SCORER.tokens) == set()


def test_services_of_one_company_are_one_provider(tmp_path: Path) -> None:
    write(tmp_path, "Le Chat", "Terms of Service", ACME_BAN)
    write(tmp_path, "Vibe", "Terms of Service", "Nothing here.")
    by_provider = clause_quality.provider_paragraphs([tmp_path], SCORER.tokens)
    assert set(by_provider) == {"Mistral AI"}


def test_leaving_a_provider_out_drops_the_rules_only_it_supports() -> None:
    data = {"vocab": {"x": "y"}, "rules": [
        {"id": "only-acme", "must_match": [ACME_BAN]},
        {"id": "acme-and-other", "must_match": [ACME_BAN, OTHER_BAN]},
        {"id": "only-other", "must_match": [OTHER_BAN]},
        {"id": "no-examples"},
    ]}
    owners = {ACME_BAN: {"Acme"}, OTHER_BAN: {"Other", "Acme"}}
    reduced, dropped = clause_quality.rules_without(data, "Acme", owners)
    assert dropped == ["only-acme", "acme-and-other", "only-other"]
    assert [r["id"] for r in reduced["rules"]] == ["no-examples"]
    assert reduced["vocab"] == {"x": "y"}

    reduced, dropped = clause_quality.rules_without(data, "Other", owners)
    assert dropped == ["only-other"]
    assert {r["id"]: r.get("must_match") for r in reduced["rules"]} == {
        "only-acme": [ACME_BAN], "acme-and-other": [ACME_BAN], "no-examples": None}


def test_a_sentence_nobody_wrote_drops_nothing() -> None:
    data = {"rules": [{"id": "invented", "must_match": ["A sentence of no corpus."]}]}
    reduced, dropped = clause_quality.rules_without(data, "Acme", {"A sentence of no corpus.": set()})
    assert dropped == [] and reduced["rules"] == data["rules"]


def test_the_scorer_run_keeps_the_folder_names_of_documents_the_registry_also_names(tmp_path: Path) -> None:
    # The shipped sources.yaml continues "ChatGPT/Acceptable Use Policy" as OpenAI's usage policies: scored
    # under that name, every clause of the document would be missed.
    write(tmp_path, "ChatGPT", "Acceptable Use Policy", "# Usage policies\n\n" + "\n\n".join(
        f"{number}. You may not use Output to develop models that compete with OpenAI." for number in range(1, 6)))
    gold = {"documents": [{"service": "ChatGPT", "terms_type": "Acceptable Use Policy", "clauses_at_head": [],
                           "events": []}]}
    clauses, _ = clause_quality.run_cli_scorer(gold, tmp_path)
    assert clauses and {(clause["provider"], clause["title"]) for clause in clauses} == {
        ("ChatGPT", "Acceptable Use Policy")}
