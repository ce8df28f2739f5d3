"""Change stage: alignment-driven comparison, direction and reason on real sentences and real licence versions."""

from __future__ import annotations

from pathlib import Path

from monitor.changes import compare_clauses, render_diff_text
from monitor.clauses import extract_clauses


def change_of(before: str, after: str):
    previous, current = extract_clauses(before), extract_clauses(after)
    keyed, changes = compare_clauses(previous, current)
    assert len(changes) == 1, changes
    return keyed, changes[0]


def test_exception_removed_is_tightened() -> None:
    # Le Chat/Terms of Service (2025-11): the API-key rule and its exception.
    _, change = change_of("You may not share your API Key with any third party without our prior written permission.",
                          "You may not share your API Key with any third party.")
    assert change.direction == "tightened" and "without our prior written permission" in change.reason


def test_competing_scope_dropped_is_tightened() -> None:
    # ChatGPT/Terms of Service.
    _, change = change_of("Using Output to develop models that compete with OpenAI.", "Using Output to develop models.")
    assert change.direction == "tightened" and "scope widened" in change.reason


def test_attempt_added_is_tightened() -> None:
    # Le Chat/Commercial Terms 2025-12-15: "compromise" became "compromise or attempt to compromise".
    before = ("(e) compromise the security or proper functionality of the Mistral AI Products, including interfering "
              "with, circumventing, or bypassing security or moderation mechanisms in the Mistral AI Products;")
    after = before.replace("(e) compromise", "(f) compromise or attempt to compromise")
    _, change = change_of(before, after)
    assert change.direction == "tightened" and "attempt" in change.reason


def test_permission_removed_is_tightened() -> None:
    # Llama API/Terms of Service 2026-07-08: the naming condition (an implicit permission) is deleted.
    naming = ("If you use the Llama AI models or any Outputs or results of the Llama AI models to create, train, fine "
              "tune, or otherwise improve an AI model, which is distributed or made available, you shall also include "
              "“Llama” at the beginning of any such AI model name.")
    other = "These Terms govern your access to the Services."
    _, changes = compare_clauses(extract_clauses(f"{other}\n\n{naming}"), extract_clauses(other))
    assert [c.direction for c in changes] == ["tightened"] and changes[0].kind == "removed"


def test_threshold_lowered_is_tightened_and_unchanged_threshold_is_silent() -> None:
    clause = ("2. Additional Commercial Terms. If the monthly active users of the products or services made available "
              "by or for Licensee is greater than {n} million monthly active users in the preceding calendar month, you "
              "must request a license from Meta.")
    _, change = change_of(clause.format(n=700), clause.format(n=100))
    assert change.direction == "tightened" and "threshold lowered" in change.reason
    _, changes = compare_clauses(extract_clauses(clause.format(n=700)), extract_clauses(clause.format(n=700)))
    assert changes == []


def test_renumbering_is_reworded_and_keys_are_kept() -> None:
    # Le Chat/Terms of Service 2025-12-15: relettered (f) -> (e), same text.
    text = ("Compromise the security or proper functionality of the Mistral AI Products, including interfering with, "
            "circumventing, or bypassing security or moderation mechanisms in the Mistral AI Products;")
    previous = extract_clauses(f"(f) {text}")
    keyed, changes = compare_clauses(previous, extract_clauses(f"(e) {text}"))
    assert keyed[0].key == previous[0].key
    assert changes[0].direction == "reworded" and "(f) → (e)" in changes[0].reason


def test_shall_to_will_is_reworded() -> None:
    _, change = change_of("You shall not try to circumvent security protections and AI safety filters.",
                          "You will not try to circumvent security protections and AI safety filters.")
    assert change.direction == "reworded"
    assert "[-shall-]" in render_diff_text(change.diff)


def test_both_directions_is_unclear() -> None:
    # Llama API/Terms of Service (xii): verbs added and an authorisation exception added at once.
    before = ("(xii) circumvent, disable, or evade rate limits, usage quotas, content filters, access controls, or other "
              "technical safeguards applied to the Services;")
    after = ("(xii) circumvent, violate, hack, disable, or evade rate limits, usage quotas, content filters, access "
             "controls, or other technical safeguards applied to the Services, without Meta's prior written authorization;")
    _, change = change_of(before, after)
    assert change.direction == "unclear"


def test_new_restriction_is_tightened_and_removed_is_loosened() -> None:
    rule = "You shall not try to circumvent security protections and AI safety filters."
    intro = "This policy applies to all products."
    _, added = compare_clauses(extract_clauses(intro), extract_clauses(f"{intro}\n\n{rule}"))
    assert [(c.kind, c.direction) for c in added] == [("added", "tightened")]
    _, removed = compare_clauses(extract_clauses(f"{intro}\n\n{rule}"), extract_clauses(intro))
    assert [(c.kind, c.direction) for c in removed] == [("removed", "loosened")]


def test_unwatched_changes_make_no_event() -> None:
    _, changes = compare_clauses(extract_clauses("Fees are due in 30 days."), extract_clauses("Fees are due in 45 days."))
    assert changes == []


def _versions(corpus: Path, document: str, before: str, after: str):
    folder = corpus / "licenses-lineage" / "Meta Llama" / document
    return (extract_clauses((folder / f"{before}.md").read_text()),
            extract_clauses((folder / f"{after}.md").read_text()))


def test_llama_3_to_3_1_loosens_output_training(corpus: Path) -> None:
    previous, current = _versions(corpus, "Community License", "2024-04-15T00-00-00Z", "2024-07-08T00-00-00Z")
    _, changes = compare_clauses(previous, current)
    removed = [c for c in changes if "output_training" in c.categories and c.kind == "removed"]
    assert removed and removed[0].direction == "loosened" and "improve any other large language model" in removed[0].before
    permission = [c for c in changes if "output_training_permission" in c.categories]
    assert permission and permission[0].direction == "loosened" and "attribution_naming" in permission[0].categories
    # The version name in the threshold clause changed, the 700 million did not: reworded at most.
    assert all(c.direction == "reworded" for c in changes if "scale_threshold" in c.categories)


def test_llama_3_2_use_policy_withholds_eu_rights(corpus: Path) -> None:
    previous, current = _versions(corpus, "Acceptable Use Policy", "2024-07-08T00-00-00Z", "2024-09-25T00-00-00Z")
    _, changes = compare_clauses(previous, current)
    geographic = [c for c in changes if "geographic_restriction" in c.categories]
    assert geographic and geographic[0].direction == "tightened" and "European Union" in geographic[0].after
