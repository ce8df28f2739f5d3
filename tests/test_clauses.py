"""Clause stage: segmentation, classification (rules and YAML cases), features and alignment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.clauses import Clause, extract_clauses
from monitor.clauses.align import align_clauses
from monitor.clauses.classify import classify_clause, extract_features, load_rules
from monitor.clauses.segment import segment_document
from monitor.clauses.sentences import split_sentences
from monitor.extract.text import normalise_plain_text

CASES = yaml.safe_load((Path(__file__).parent / "data" / "clause_cases.yaml").read_text(encoding="utf-8"))
# The taxonomy's clauses in wordings no corpus document uses: the rules on language they were not written on.
CONSTRUCTED = yaml.safe_load((Path(__file__).parent / "data" / "constructed_wordings.yaml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- segmentation

def texts(document: str) -> list[str]:
    return [s.text for s in segment_document(document) if s.kind != "heading"]


def test_numbered_items_with_section_paths() -> None:
    document = "# 3. Customer obligations\n\n- 3.1. Account. Customer must keep it safe.\n\n- 3.2. Users. One user per seat.\n"
    segments = [s for s in segment_document(document) if s.kind != "heading"]
    assert [s.path for s in segments] == ["3.1", "3.2"]
    assert segments[0].heading == "Customer obligations"


def test_long_inline_lettered_list_is_split_into_items_with_paths() -> None:
    # Real section 3.3 of ChatGPT/Commercial Terms: far too long for one clause.
    document = ("*   3.3. Restrictions. Customer will not, and will not permit End Users to: (a) use the Services or "
                "Customer Content in a way that violates applicable laws or OpenAI Policies; (b) use the Services or "
                "Customer Content in a way that violates third parties’ rights; (c) allow minors to use OpenAI Services "
                "without consent from their parent or guardian; (d) Reverse Engineer any aspect of the Services or the "
                "systems used to provide the Services; (e) except for a Permitted Exception, use Output to develop "
                "artificial intelligence models that compete with OpenAI’s products and services; (f) extract data from "
                "the Services other than as permitted through the Services; (g) buy, sell, or transfer API keys from, to, "
                "or with a third party; (h) interfere with or disrupt the Services, including circumvent any rate limits or "
                "restrictions or bypass any protective measures or safety mitigations for the Services; (i) violate or "
                "circumvent Usage Limits or otherwise configure the Services to avoid Usage Limits.")
    segments = segment_document(document)
    paths = [s.path for s in segments]
    assert "3.3(e)" in paths and "3.3(a)" in paths
    item = next(s for s in segments if s.path == "3.3(e)")
    assert item.text.startswith("(e) except for a Permitted Exception")
    assert "will not permit End Users" in item.lead


def test_short_inline_list_stays_one_clause() -> None:
    # Real D.4 of Claude.ai/Commercial Terms: one sentence short enough to be one clause.
    text = ("D.4. **Use Restrictions.** Customer may not and must not attempt to (a) access the Services to build a "
            "competing product or service, including to train competing AI models or resell the Services except as "
            "expressly approved by Anthropic; (b) reverse engineer or duplicate the Services; or (c) support any third "
            "party’s attempt at any of the conduct restricted in this sentence.")
    segments = segment_document(text)
    assert len(segments) == 1 and segments[0].path == "D.4"


def test_bullets_are_clauses() -> None:
    document = "You may not:\n\n- Using Output to develop models that compete with OpenAI.\n- Automatically or programmatically extracting data or Output.\n"
    segments = [s for s in segment_document(document) if s.kind == "item"]
    assert [s.text for s in segments] == ["Using Output to develop models that compete with OpenAI.",
                                          "Automatically or programmatically extracting data or Output."]
    assert segments[0].lead == "You may not:"


def test_multi_rule_paragraph_is_split_into_sentences() -> None:
    paragraph = ("3.1. Customer Account. Customer must provide accurate and current Account information. Customer will not "
                 "share Account access credentials or individual login credentials between multiple users. Customer may not "
                 "resell or lease access to its Account or any End User Account. Customer will promptly notify OpenAI if it "
                 "becomes aware of unauthorized access to the Account or the Services, e.g. a stolen password, within 24 hours "
                 "under Section 3.2 of the U.S. terms.")
    found = texts(paragraph)
    assert "Customer may not resell or lease access to its Account or any End User Account." in found
    assert any(t.endswith("under Section 3.2 of the U.S. terms.") for t in found)


def test_sentence_split_respects_abbreviations() -> None:
    assert len(split_sentences("Do not use bots (e.g. scrapers). Inc. is fine. See Section 3. The end.")) == 3


def test_hard_wrapped_licence_is_joined(corpus: Path) -> None:
    text = (corpus / "licenses-lineage" / "Meta Llama" / "Community License" / "2023-07-21T00-00-00Z.md").read_text()
    clause = next(c for c in extract_clauses(text) if "improve any other large language model" in c.text)
    assert "output_training" in clause.categories
    assert "\n" not in clause.text and clause.text.startswith("v.")


def test_a_numbered_title_on_its_own_line_is_a_heading_not_part_of_the_clause() -> None:
    # ChatGLM3 Model License (2024-05-24), plain text as the extract stage gives it: "3. Restrictions" above
    # the sentences it heads.
    text = ("3. Restrictions\nYou are not allowed to use, copy, modify, merge, publish, distribute, copy or create all "
            "or part of the derivative works of this software for any military or illegal purposes.\n\n"
            "4. You may not use the\nOutputs to train any other large language model.")
    first, second = [c for c in extract_clauses(normalise_plain_text(text)) if c.watched]
    assert first.heading == "Restrictions" and first.text.startswith("You are not allowed")
    assert second.text == "4. You may not use the Outputs to train any other large language model."
    # Creating derivative works is copying, not building a model.
    assert "develop" not in first.features["actions"]


def test_glued_list_from_a_single_line_capture(corpus: Path) -> None:
    folder = corpus / "genai-eu" / "Llama API" / "Terms of Service"
    text = sorted(folder.glob("*.md"))[-1].read_text()
    clause = next(c for c in extract_clauses(text) if c.text.startswith("(ii) extract any data"))
    assert clause.categories == ("automated_extraction",)


# ---------------------------------------------------------------- classification

@pytest.mark.parametrize("case", CASES + CONSTRUCTED, ids=lambda c: c["text"][:50])
def test_classification_cases(case: dict) -> None:
    result = classify_clause(case["text"], case.get("lead", ""))
    for category in case["categories"]:
        assert category in result.categories, result
    if not case["categories"]:
        assert result.categories == (), result
    for category in case.get("not", []):
        assert category not in result.categories, result


RULES = load_rules().rules


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_on_its_own_examples(rule) -> None:
    assert rule.must_match, f"{rule.id} has no must_match example"
    for sentence in rule.must_match:
        assert rule.id in classify_clause(sentence).rules, sentence
    for sentence in rule.must_not_match:
        assert rule.id not in classify_clause(sentence).rules, sentence


def test_features_exceptions_thresholds_territories() -> None:
    features = extract_features("(e) except for a Permitted Exception, use Output to develop artificial intelligence "
                                "models that compete with OpenAI’s products and services;")
    assert {"type": "permitted exception", "text": "except for a permitted exception"} in features["exceptions"]
    assert features["scope"] == "competing" and "outputs" in features["objects"] and "develop" in features["actions"]
    threshold = extract_features("is greater than 700 million monthly active users in the preceding calendar month")
    assert threshold["thresholds"][0]["value"] == 700e6
    assert threshold["thresholds"][0]["unit"] == "monthly active users"
    assert extract_features("domiciled in the European Union")["territories"] == ["european union"]
    assert "end users" in extract_features("x", "Customer will not, and will not permit End Users to:")["bound_parties"]


def test_classification_is_cached() -> None:
    text = "(f) extract data from the Services other than as permitted through the Services;"
    assert classify_clause(text) is classify_clause(text)


# ---------------------------------------------------------------- alignment

def make(text: str, label: str = "") -> Clause:
    return extract_clauses(text)[0] if not label else extract_clauses(f"{label} {text}")[0]


def test_relettered_items_keep_their_keys() -> None:
    previous = [make("Compromise the security of the Products.", "(f)"),
                make("Use any method to extract any content from the Products.", "(g)")]
    current = [make("Use any method to extract any content from the Products.", "(f)"),
               make("Compromise the security of the Products.", "(e)")]
    alignment = align_clauses(previous, current)
    assert sorted(alignment.pairs) == [(0, 1), (1, 0)]
    assert not alignment.added and not alignment.removed


def test_reworded_clause_is_aligned_by_similarity() -> None:
    previous = [make("(vi) use Connector Requests to develop models that compete with OpenAI;")]
    current = [make("(f) use App Requests to develop models that compete with OpenAI;")]
    assert align_clauses(previous, current).pairs == [(0, 0)]


def test_inline_list_running_over_sentences_is_one_list(corpus: Path) -> None:
    # Llama API/Terms of Service (2026-08-22): "...Meta:(i) access ... Products. For the avoidance of doubt,
    # ...;(ii) extract ...;(ix) use .... For the avoidance of doubt, ...;(x) reverse engineer ...;(xi) ..."
    folder = corpus / "genai-eu" / "Llama API" / "Terms of Service"
    clauses = extract_clauses(sorted(folder.glob("*.md"))[-1].read_text())
    item = {label: next(c for c in clauses if c.text.startswith(f"{label} {start}"))
            for label, start in [("(i)", "access or use the Services on behalf"), ("(ix)", "use or facilitate"),
                                 ("(x)", "reverse engineer"), ("(xi)", "publicly disseminate"), ("(xv)", "use or redistribute")]}
    assert "For the avoidance of doubt, you may not resell" in item["(i)"].text
    assert "does not constitute a prohibited use" in item["(ix)"].text
    assert item["(x)"].categories == ("reverse_engineering",)
    assert "competing_use" in item["(xi)"].categories
    assert "Meta:" in item["(x)"].lead


def test_model_licence_categories_in_service_terms_only_with_a_core_category() -> None:
    threshold = ("If the monthly active users of the products or services made available by or for you, or your "
                 "affiliates, is greater than 700 million monthly active users in the preceding calendar month, you "
                 "are not authorized to use or access the Services unless or until Meta otherwise expressly grants "
                 "you such rights.")
    naming = ("If you use the Llama AI models or any Outputs or results of the Llama AI models to create, train, fine "
              "tune, or otherwise improve an AI model, which is distributed or made available, you shall also "
              "include “Llama” at the beginning of any such AI model name.")
    assert extract_clauses(threshold, kind="terms")[0].categories == ()
    assert extract_clauses(threshold)[0].categories == ("scale_threshold",)
    assert extract_clauses(threshold, kind="license")[0].categories == ("scale_threshold",)
    assert set(extract_clauses(naming, kind="terms")[0].categories) == {"output_training_permission", "attribution_naming"}


def test_names_are_not_objects_and_illustrations_do_not_widen() -> None:
    features = extract_features("You may not share your Meta Model API key with any third party.")
    assert features["objects"] == ["api keys"]
    features = extract_features("(d) attempt to reverse engineer, decompile, or otherwise attempt to discover the source "
                                "code or underlying components (e.g., algorithms, weights, or systems) of the Mistral AI "
                                "Products")
    assert "weights" not in features["objects"] and "weights" in features["objects_all"]
    # An object named only in a carve-out is not what the rule forbids.
    assert "outputs" not in extract_features("(f) use any method to extract any content from the Mistral AI Products "
                                             "other than Outputs; or")["objects"]


def test_watched_clause_is_not_paired_with_an_indemnity_item() -> None:
    # Llama API/Terms of Service 2026-07-08: the circumvention item was redrafted as (xii); the indemnity list
    # reuses its words.
    previous = [make("circumvent or attempt to avoid any filtering, safety and security measures, or other features "
                     "designed to protect the Services, including any guardrails and content restrictions;", "(ix)")]
    current = [make("your disabling, circumventing, or failing to use any filtering, safety and security measures, "
                    "citations, or other features designed to protect the Services, including any guardrails and "
                    "content restrictions;", "(vi)"),
               make("circumvent, disable, or evade rate limits, usage quotas, content filters, access controls, or other "
                    "technical safeguards applied to the Services;", "(xii)")]
    alignment = align_clauses(previous, current)
    assert alignment.pairs == [(0, 1)] or alignment.merged == {1: [0]}


@pytest.mark.parametrize("pattern, strings", [
    (r"\bscrap(?:e|es|ing)\b|\bcrawl\w*", {"scrap", "crawl"}),  # each branch's own literal
    (r"\bdistil(?:l|ling)?\b (?:\w+ ){0,3}?data", {"distil"}),  # the longest run wins
    (r"(?:use|using) .{0,40}(?:outputs?|results?)", {"output", "result"}),
    (r"(?:train){2,}", {"train"}),  # a repeat that occurs at least once
    (r"(?:train)?ing data", {"ing data"}),  # an optional part requires nothing
    (r"ab|scrape", None),  # a branch too short to filter anything
    (r"(?i)scrape", None),  # case-insensitive: a literal could appear in any case
    (r"[a-z]+ed\b", None),  # a class and a run too short
])
def test_required_strings_of_a_pattern(pattern: str, strings: set[str] | None) -> None:
    import re

    from monitor.clauses.prefilter import required_strings

    assert required_strings(re.compile(pattern)) == (frozenset(strings) if strings else None)


def test_rule_prefilters_never_change_a_match(corpus: Path) -> None:
    """Every rule, with its prefilter and without, on every clause of the real terms and licences."""
    import dataclasses

    from monitor.clauses.classify import prepare_text

    texts = {segment.text for path in sorted((corpus / "genai-eu").rglob("*.md"))[::3]
             for segment in segment_document(path.read_text(encoding="utf-8"))}
    texts |= {segment.text for path in sorted((corpus / "licenses-lineage").rglob("*.md"))
              for segment in segment_document(path.read_text(encoding="utf-8"))}
    texts |= {segment.text for path in sorted((corpus / "licenses").rglob("*.txt"))[::4]
              for segment in segment_document(path.read_text(encoding="utf-8"))}
    rules = load_rules().rules
    # The corpus has little Chinese and few of some licence clauses: rules fire on their own examples too.
    texts |= {example for rule in rules for example in rule.must_match}
    prepared = [prepare_text(text) for text in texts]
    assert all(rule.needs_one_of or rule.predicate for rule in rules)

    for rule in rules:
        unfiltered = dataclasses.replace(rule, needs_one_of=())
        matched = [text for text in prepared if unfiltered.matches(text)]
        assert matched, rule.id  # each rule fires somewhere in the corpus, so the check has teeth
        assert [text for text in prepared if rule.matches(text)] == matched, rule.id


def test_rules_file_from_environment_with_includes(tmp_path, monkeypatch):
    # An operator's (or a benchmark's) rules file replaces the shipped one, and its `include:` adds rules.
    main = {"vocab": {"negation": r"\bnot\b"}, "vetoes": {"provider_side": "^$never", "definition": "^$never",
            "permission": "^$never"}, "features": {}, "include": ["extra.yaml"],
            "rules": [{"id": "x.widgets", "category": "competing_use", "reason": "widgets", "all": [r"\bwidgets?\b"]}]}
    extra = {"vocab": {"gadget": r"gadgets?"},
             "rules": [{"id": "x.gadgets", "category": "reverse_engineering", "reason": "gadgets", "all": [r"\b{gadget}\b"]}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(main))
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
    monkeypatch.setenv("CLAUSEWATCH_RULES", str(tmp_path / "rules.yaml"))
    assert [rule.id for rule in load_rules().rules] == ["x.widgets", "x.gadgets"]
    assert load_rules().rules[1].matches("no gadgets here")
    monkeypatch.delenv("CLAUSEWATCH_RULES")
    assert "x.widgets" not in {rule.id for rule in load_rules().rules}


def test_service_terms_drop_licence_categories_and_policies_drop_use_policy() -> None:
    # genai-eu/Llama API/Terms of Service 2026-07-08: the provider's own usage policy, incorporated.
    terms = ("Restrictions.10.1 Compliance with Restrictions. Your use of the Services, including any Content, must comply "
             "with the (i) Terms, (ii) our Meta Model API Acceptable Use Policy (“Model API AUP”) which is incorporated by "
             "reference herein, and (iii) all applicable laws and regulations.")
    assert "use_policy" in classify_clause(terms).categories
    assert not [c for c in extract_clauses(terms, "terms") if c.categories]
    # genai-eu/Llama API/Acceptable Use Policy: a use policy is the policy, not one incorporated by reference.
    policy = ("Use the Services to autonomously interact with systems or services in a manner that violates the terms of "
              "service or acceptable use policies of those systems or services.")
    assert "use_policy" in classify_clause(policy).categories
    assert all("use_policy" not in c.categories for c in extract_clauses(policy, "policy"))
