"""Change stage: alignment-driven comparison, direction and reason on real sentences and real licence versions."""

from __future__ import annotations

from pathlib import Path
import pytest
import yaml

from monitor.changes import compare_clauses
from monitor.clauses import extract_clauses
from monitor.diffs import diff_as_text


def change_of(before: str, after: str):
    previous, current = extract_clauses(before), extract_clauses(after)
    keyed, changes = compare_clauses(previous, current)
    assert len(changes) == 1, changes
    return keyed, changes[0]


DIRECTION_CASES = yaml.safe_load((Path(__file__).parent / "data" / "direction_cases.yaml").read_text(encoding="utf-8"))


def _check_direction(before: str, after: str, expected: dict) -> None:
    _, change = change_of(before, after)
    reason = change.reason.lower()
    if "direction" in expected:
        assert change.direction == expected["direction"], change.reason
    if "direction_not" in expected:
        assert change.direction != expected["direction_not"], change.reason
    if "reason_has" in expected:
        assert expected["reason_has"].lower() in reason, change.reason
    if "reason_lacks" in expected:
        assert expected["reason_lacks"].lower() not in reason, change.reason
    if "diff_has" in expected:
        assert expected["diff_has"] in diff_as_text(change.diff)


@pytest.mark.parametrize("case", DIRECTION_CASES, ids=lambda c: c["name"])
def test_direction_of_one_clause_edit(case: dict) -> None:
    _check_direction(case["before"], case["after"], case)
    if "reverse" in case:
        _check_direction(case["after"], case["before"], case["reverse"])


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
    thresholds = [c for c in changes if "scale_threshold" in c.categories]
    assert thresholds and all(c.direction == "reworded" for c in thresholds)


def test_llama_3_2_use_policy_withholds_eu_rights(corpus: Path) -> None:
    previous, current = _versions(corpus, "Acceptable Use Policy", "2024-07-08T00-00-00Z", "2024-09-25T00-00-00Z")
    _, changes = compare_clauses(previous, current)
    geographic = [c for c in changes if "geographic_restriction" in c.categories]
    assert geographic and geographic[0].direction == "tightened" and "European Union" in geographic[0].after





def test_removed_rule_restated_in_another_clause_is_a_merge() -> None:
    # Le Chat/Terms of Service 2025-12-15: the API-key paragraph folded into the credentials clause.
    key = ("API Key. We will provide you with a confidential API key (the “API Key”) to enable you to access our APIs. "
           "You must use your API Key in accordance with our documentation. You may not share your API Key with any "
           "third party without our prior written permission.")
    old = ("You may not make account access credentials available to third parties, share individual login credentials "
           "between multiple users on an account, or resell or lease access to your account or any End User Account.")
    new = ("You may not make your account credentials (including any API keys) available to third parties, share "
           "individual login credentials or API keys between multiple users on an account, or resell or lease access "
           "to your account or API keys.")
    _, changes = compare_clauses(extract_clauses(f"{key}\n\n{old}"), extract_clauses(new))
    assert not [c for c in changes if c.kind == "removed"]
    key_changes = [c for c in changes if "API Key" in c.before]
    assert key_changes and all(c.direction == "tightened" for c in key_changes)


def test_word_diff_never_splits_a_word_and_reasons_read_as_edits() -> None:
    from monitor.changes import word_diff
    from monitor.changes.compare import wording_edits

    diff = word_diff("You shall not use Output.", "You will not use Output.")
    assert (-1, "shall") in diff and (1, "will") in diff
    assert wording_edits(diff) == ["'shall' became 'will'"]
    (edit,) = wording_edits(word_diff("compromise the security", "compromise or attempt to compromise the security"))
    assert edit.endswith(" added") and sorted(edit[1:-7].split()) == ["attempt", "compromise", "or", "to"]


SCOPE_EDITS = yaml.safe_load((Path(__file__).parent / "data" / "scope_edits.yaml").read_text(encoding="utf-8"))
# Undoing a widening is a loosening; where what remains may still cover the dropped words ("access or use"
# -> "use"), the engine asks for review instead.
_REVERSE = {"tightened": ("loosened", "unclear"), "loosened": ("tightened", "unclear")}


@pytest.mark.parametrize("case", SCOPE_EDITS["cosmetic"], ids=lambda c: c["kind"])
def test_cosmetic_edits_stay_reworded(case: dict) -> None:
    _, change = change_of(case["before"], case["after"])
    assert change.direction == "reworded", change.reason


@pytest.mark.parametrize("case", SCOPE_EDITS["scope"], ids=lambda c: c["what"])
def test_scope_edits_are_never_reworded_in_either_direction(case: dict) -> None:
    _, forward = change_of(case["before"], case["after"])
    _, backward = change_of(case["after"], case["before"])
    assert forward.direction != "reworded", forward.reason
    assert backward.direction != "reworded", backward.reason
    if "forward" in case:
        assert forward.direction == case["forward"], forward.reason
        assert backward.direction in _REVERSE[case["forward"]], backward.reason


# licenses/deepseek/deepseek-v3-license-model: a definition and a restriction that uses the defined term.
_DERIVATIVES = ('"Derivatives of the Model" means all modifications to the Model, works based on the Model, or any other '
                "model which is created or initialized by transfer of patterns of the weights, parameters, activations or "
                "output of the Model, to the other model, in order to cause the other model to perform similarly to the "
                "Model, including - but not limited to - distillation methods entailing the use of intermediate data "
                "representations or methods based on the generation of synthetic data by the Model for training the "
                "other model.")
_RESTRICTED_USES = "Therefore You cannot use the Model and the Derivatives of the Model for the specified restricted uses."


def test_a_changed_definition_is_an_event_on_the_clauses_that_use_it() -> None:
    narrower = _DERIVATIVES.replace(", or any other model which is created or initialized by transfer of patterns of the "
                                    "weights, parameters, activations or output of the Model, to the other model, in order "
                                    "to cause the other model to perform similarly to the Model, including - but not "
                                    "limited to - distillation methods entailing the use of intermediate data "
                                    "representations or methods based on the generation of synthetic data by the Model "
                                    "for training the other model", "")
    previous = extract_clauses(f"{narrower}\n\n{_RESTRICTED_USES}", "license")
    current = extract_clauses(f"{_DERIVATIVES}\n\n{_RESTRICTED_USES}", "license")
    keyed, changes = compare_clauses(previous, current)
    restriction = next(c for c in keyed if c.text == _RESTRICTED_USES)
    linked = [c for c in changes if c.key == restriction.key]
    assert restriction.watched and len(linked) == 1, changes
    assert linked[0].direction != "reworded" and "definition of 'Derivatives of the Model'" in linked[0].reason
    assert linked[0].after == current[0].text


def test_a_cosmetic_change_to_a_definition_is_no_event() -> None:
    reformatted = _DERIVATIVES.replace("including - but not limited to -", "including, but not limited to,")
    previous = extract_clauses(f"{_DERIVATIVES}\n\n{_RESTRICTED_USES}", "license")
    current = extract_clauses(f"{reformatted}\n\n{_RESTRICTED_USES}", "license")
    _, changes = compare_clauses(previous, current)
    assert not [c for c in changes if "definition of" in c.reason], changes


# ---------------------------------------------------------------- whole documents, constructed

TERMS = """# Terms of Use

## 1. Your account
You must keep your password secure. You are responsible for all activity on your account.

## 2. Restrictions
You may not:
- (a) use the Services for any illegal purpose;
- (b) reverse engineer the Services;
- (c) use Output to develop models that compete with Acme.

## 3. Content
You own your Input. Subject to these Terms, you own the Output.
"""


def _document_changes(before: str, after: str) -> list:
    return compare_clauses(extract_clauses(before), extract_clauses(after))[1]


def test_prohibition_written_into_an_unwatched_paragraph_is_tightened() -> None:
    # The old paragraph's words all live on in the new one: it was matched as merged into it, and only what
    # it lost was judged ("merged into another clause that keeps the same rule", reworded).
    after = TERMS.replace("You own your Input.", "You own your Input. You may not use Output to train any other model.")
    changes = _document_changes(TERMS, after)
    assert [(c.direction, c.categories) for c in changes] == [("tightened", ("output_training",))]


def test_lead_in_that_binds_more_parties_tightens_each_item() -> None:
    after = TERMS.replace("You may not:", "You may not, and may not permit any third party to:")
    changes = _document_changes(TERMS, after)
    assert [c.direction for c in changes] == ["tightened", "tightened"]
    assert all(c.after.startswith("You may not, and may not permit") for c in changes)
    assert [c.direction for c in _document_changes(after, TERMS)] == ["loosened", "loosened"]


def test_lead_in_that_starts_forbidding_tightens_and_a_modal_swap_is_silent() -> None:
    permissions = TERMS.replace("You may not:", "You may:")
    assert [c.direction for c in _document_changes(permissions, TERMS)] == ["tightened", "tightened"]
    assert [c.direction for c in _document_changes(TERMS, permissions)] == ["loosened", "loosened"]
    assert _document_changes(TERMS, TERMS.replace("You may not:", "You shall not:")) == []


RESTRICTION = """# Terms

## 2. Restrictions
You may not use Output to develop models that compete with Acme.

This restriction does not apply to Enterprise customers.

## 3. Use of Output
You may use Output to train your own classifiers.
"""


def test_exception_written_as_its_own_clause_counts_for_the_rule_before_it() -> None:
    without = RESTRICTION.replace("\nThis restriction does not apply to Enterprise customers.\n", "")
    removed = _document_changes(RESTRICTION, without)
    assert [(c.direction, c.categories) for c in removed] == [("tightened", ("output_training",))]
    assert "exception" in removed[0].reason and "enterprise customers" in removed[0].reason
    assert [c.direction for c in _document_changes(without, RESTRICTION)] == ["loosened"]
    # moved into the rule's own paragraph: the same rule
    inline = RESTRICTION.replace("Acme.\n\nThis restriction", "Acme. This restriction")
    assert _document_changes(RESTRICTION, inline) == []


def test_widened_definition_of_output_alerts_on_the_rules_that_use_it() -> None:
    before = ('## 1. Definitions\n"Output" means text generated by the Services.\n\n## 2. Restrictions\n'
              "You may not use Output to develop models that compete with Acme.\n")
    after = before.replace("means text generated", "means text, images, audio and code generated")
    changes = _document_changes(before, after)
    assert [(c.direction, c.categories) for c in changes] == [("unclear", ("output_training",))]
    assert "definition of 'Output' changed" in changes[0].reason and "images" in changes[0].reason
