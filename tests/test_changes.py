"""Change stage: alignment-driven comparison, direction and reason on real sentences and real licence versions."""

from __future__ import annotations

from pathlib import Path
import pytest
import yaml

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


def test_renamed_defined_terms_are_reworded() -> None:
    # Llama API/Terms of Service 2026-07-08 and Le Chat/Commercial Terms 2026-05-28.
    for before, after in [
        ("you may not create a new Managed Account to bypass the termination or prohibition.",
         "you may not create a new Account to bypass the termination or prohibition."),
        ("(i) access or use the Services on behalf of any third party, or grant access to the Services (including any "
         "related Llama API key) to any third party other than allowing End Users to interface with the Meta AI "
         "Materials through use of your Integrated Products;",
         "(i) access or use the Services on behalf of any third party, or grant access to the Services (including any "
         "related Meta Model API key) to any third party other than allowing End Users to interface with the Meta "
         "Materials through use of your Integrated Products;"),
        ("(i) integrate or combine Le Chat or Mistral Code with your own products you offer to third-parties "
         "including any other software, hardware, or other technology, nor grant any third party access to the "
         "Mistral AI Products without our prior written authorization or except as provided under these Terms.",
         "(i) integrate or combine Vibe with your own products you offer to third-parties including any other "
         "software, hardware, or other technology, nor grant any third party access to the Mistral AI Products "
         "without our prior written authorization or except as provided under these Terms."),
    ]:
        _, change = change_of(before, after)
        assert change.direction == "reworded" and "renamed" in change.reason, change


def test_adding_an_alternative_is_not_a_rename() -> None:
    _, change = change_of("Using Output to develop models that compete with OpenAI.",
                          "Using Output or Content to develop models that compete with OpenAI.")
    assert "renamed" not in change.reason


def test_redrafted_list_with_the_same_acts_is_reworded() -> None:
    # Llama API/Terms of Service 2026-07-08 (iv): acts swapped for others of the same class.
    _, change = change_of("(iv) bypass any rate limits, restrictions, or safety measures on the Services;",
                          "(xii) circumvent any rate limits, restrictions, or safety measures on the Services;")
    assert change.direction == "reworded", change.reason


def test_redraft_with_words_outside_the_vocabulary_is_reviewed() -> None:
    # Llama API/Terms of Service 2026-07-08: (iv) redrafted as (xii), with words no feature judges
    # ("usage", "content", "access", "technical", "applied"): fail-safe, a person reviews it.
    _, change = change_of("(iv) exceed or bypass any rate limits, restrictions, or safety measures on the Services;",
                          "(xii) circumvent, disable, or evade rate limits, usage quotas, content filters, access "
                          "controls, or other technical safeguards applied to the Services;")
    assert change.direction == "unclear" and "usage quotas" in change.reason, change.reason


def test_illustrations_do_not_change_the_rule_but_dropped_acts_are_reviewed() -> None:
    # Le Chat/Commercial Terms 2025-12-15 (d): objects moved into an "e.g." list, "including using the Output".
    before = ("(d) reverse assemble, reverse compile, decompile, translate, engage in model extraction or stealing "
              "attacks, or otherwise attempt to discover the source code or underlying components of the Mistral AI "
              "Products, algorithms, and systems of the Mistral AI Products (except to the extent these restrictions "
              "are prohibited by applicable law);")
    after = ("(d) attempt to reverse engineer, decompile, or otherwise attempt to discover the source code or underlying "
             "components (e.g., algorithms, weights, or systems) of the Mistral AI Products, including using the Output "
             "or any modified version of the Output to do any of the foregoing (except to the extent this restriction "
             "is prohibited by applicable law);")
    _, change = change_of(before, after)
    # "translate" left the list of acts and no feature covers it: never reworded, reviewed instead.
    assert change.direction == "unclear" and "translate" in change.reason, change.reason


def test_carve_out_narrowed_to_boilerplate_is_tightened() -> None:
    # Le Chat/Commercial Terms 2025-12-15: the carve-out that let Outputs be extracted went away.
    _, change = change_of("(f) use any method to extract any content from the Mistral AI Products other than Outputs; or",
                          "(g) use any method to extract any content from the Mistral AI Products other than as "
                          "permitted through the Mistral AI Products in accordance with these Terms; or")
    assert change.direction == "tightened" and "other than outputs" in change.reason


def test_dropped_qualifier_widens_the_rule() -> None:
    # Le Chat/Terms of Service 2026-03-12: "your own products you offer" became "any products you may offer".
    before = ("(h) Integrate or combine the Mistral AI Products with your own products you offer to third-parties "
              "including any other software, hardware, or other technology, nor grant any third party access to the "
              "Mistral AI Products without our prior written authorization or except as provided under these Terms;")
    after = before.replace("your own products you offer", "any products you may offer or make available")
    _, change = change_of(before, after)
    assert change.direction == "tightened" and "your own" in change.reason


def test_qualifier_removed_with_its_item_does_not_widen_the_rule() -> None:
    # Le Chat/Commercial Terms 2026-03-12: item (b), with its "commercial products", was deleted.
    before = ("3.3. Output Restrictions. To the extent permitted by applicable law, Customer may not use: (a) image "
              "Outputs to develop or train any image generation product that competes with a Mistral AI Product; or (b) "
              "Outputs generated using our web-search feature to (i) copy, store, archive, cache, or create a database "
              "of the Outputs, (ii) redistribute, resell, or sublicense the Outputs, (iii) as part of any machine "
              "learning or similar algorithmic activity, or (iv) to create, train, evaluate, or improve commercial "
              "products or services that Customer makes available to third-parties.")
    after = ("3.3. Output Restrictions. To the extent permitted by applicable law, Customer may not use image Outputs "
             "to develop or train any image generation product that competes with a Mistral AI Product.")
    _, change = change_of(before, after)
    assert change.direction == "loosened" and "commercial" not in change.reason


def test_consent_made_harder_to_get_is_tightened_and_easier_loosened() -> None:
    # Grok/Acceptable Use Policy 2026-07-08: "our official blessing" became "our official written consent".
    before = ("Don’t circumvent safeguards unless you are part of an official Red Team or otherwise have our official "
              "blessing.")
    after = before.replace("blessing", "written consent")
    _, change = change_of(before, after)
    assert change.direction == "tightened" and "written" in change.reason
    _, change = change_of(after, before)
    assert change.direction == "loosened" and "written" in change.reason


def test_exception_of_an_added_prohibition_does_not_loosen_the_clause() -> None:
    # Llama API/Terms of Service 2026-08-22: a new resale ban, with its own exception, appended to item (i).
    before = ("(i) access or use the Services on behalf of any third party, or grant access to the Services (including "
              "any related Meta Model API key) to any third party other than allowing End Users to interface with the "
              "Meta Materials through use of your Integrated Products;")
    after = before.rstrip(";") + (". For the avoidance of doubt, you may not resell, or otherwise provide access to the "
                                  "Services (including the Meta Models or any Meta Model API key) to any third party on "
                                  "a standalone basis, or through any model aggregator, API gateway, proxy, or similar "
                                  "offering, in each case except as expressly authorized by Meta in writing;")
    _, change = change_of(before, after)
    assert change.direction == "tightened", change.reason


def test_exception_added_beside_a_widening_is_unclear() -> None:
    # Grok/Commercial Terms 2026-08-14: any model now, but "except as may be expressly permitted in an Order Form".
    _, change = change_of(
        "Customer shall not represent that Output was human-generated or use the Output to train Customer’s or its "
        "providers’ machine learning or AI models.",
        "Customer will not, and will not permit any third party to: (i) use any Output to train any foundation models, "
        "large language models, or other artificial intelligence systems except as may be expressly permitted in an "
        "Order Form; or (ii) misrepresent that any Output was human-generated.")
    assert change.direction == "unclear" and "order form" in change.reason


def test_purpose_dropped_from_a_list_of_banned_purposes_loosens() -> None:
    # ChatGLM-6B Model License 2023-07-08: "commercial" left the banned purposes; added back, it tightens.
    before = ("You will not use, copy, modify, merge, publish, distribute, reproduce, or create derivative works of the "
              "Software, in whole or in part, for any commercial, military, or illegal purposes.")
    after = before.replace("commercial, ", "")
    _, change = change_of(before, after)
    assert change.direction == "loosened" and "commercial" in change.reason
    _, change = change_of(after, before)
    assert change.direction == "tightened" and "commercial" in change.reason


def test_a_country_named_as_context_is_no_territory_change() -> None:
    # ChatGLM3 Model License 2024-05-24: "China's national security" → "national security", and more harms named.
    _, change = change_of(
        "You will not use the Software for any act that may undermine China's national security and national unity, "
        "harm the public interest of society, or infringe upon the rights and interests of human beings.",
        "You are not allowed to use this software to engage in any behavior that endangers national security and "
        "unity, endangers social public interests and public order, infringes on the rights and interests of others "
        "such as trade secrets, intellectual property rights, reputation rights, portrait rights, property rights.")
    assert change.direction != "loosened" and "territory" not in change.reason


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
    assert all(c.direction == "tightened" for c in changes if "API Key" in c.before)


def test_word_diff_never_splits_a_word_and_reasons_read_as_edits() -> None:
    from monitor.changes import wording_edits, word_diff

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
