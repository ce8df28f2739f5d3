"""Thresholds: amounts, quantities, comparisons and phrasings read from clauses (YAML cases), and the signals
of their changes across versions, including stored features of the earlier {"value", "unit", "text"} shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.clauses.amounts import read_amount
from monitor.clauses.threshold_changes import compare_thresholds
from monitor.clauses.thresholds import COMPARISONS, PHRASINGS, QUANTITIES, Threshold, find_thresholds, is_scale_threshold

CASES = yaml.safe_load((Path(__file__).parent / "data" / "thresholds.yaml").read_text(encoding="utf-8"))
LLAMA = ("If, on the Meta Llama 3 version release date, the monthly active users of the products or services made "
         "available by or for Licensee, or Licensee’s affiliates, is greater than {} monthly active users in the "
         "preceding calendar month, you must request a license from Meta.")


def features(text: str) -> list[dict]:
    return [t.to_feature() for t in find_thresholds(text)]


def read(threshold: Threshold) -> dict:
    return {"quantity": threshold.quantity, "value": threshold.value, "comparison": threshold.comparison,
            "phrasing": threshold.phrasing, "currency": threshold.currency, "period": threshold.period,
            "consistent": threshold.consistent, "other_value": threshold.other_value}


def expected(entry: dict) -> dict:
    return {"currency": None, "period": None, "consistent": True, "other_value": None,
            **entry, "value": float(entry["value"]),
            "other_value": float(entry["other_value"]) if entry.get("other_value") is not None else None}


@pytest.mark.parametrize("case", CASES["find"], ids=lambda case: case["text"][:60])
def test_thresholds_found(case: dict) -> None:
    assert [read(t) for t in find_thresholds(case["text"])] == [expected(e) for e in case["thresholds"]]


@pytest.mark.parametrize("case", CASES["find"], ids=lambda case: case["text"][:60])
def test_scale_threshold(case: dict) -> None:
    assert is_scale_threshold(case["text"]) is case["scale"]


@pytest.mark.parametrize("case", CASES["compare"], ids=lambda case: case["after"][:60])
def test_compared_versions(case: dict) -> None:
    signals = compare_thresholds(features(case["before"]), features(case["after"]))
    assert sorted({sign for sign, _ in signals}) == case["signs"]
    if case.get("reason"):
        assert any(case["reason"] in reason for _, reason in signals), signals


def test_cases_use_the_closed_vocabularies() -> None:
    for case in CASES["find"]:
        for entry in case["thresholds"]:
            assert entry["quantity"] in QUANTITIES and entry["phrasing"] in PHRASINGS
            assert entry["comparison"] in COMPARISONS


def test_features_are_plain_json_and_read_back() -> None:
    for case in CASES["find"]:
        for threshold in find_thresholds(case["text"]):
            feature = json.loads(json.dumps(threshold.to_feature()))
            assert Threshold.from_feature(feature) == threshold


def test_features_keep_the_earlier_keys() -> None:
    (feature,) = features(LLAMA.format("700 million"))
    assert feature["value"] == 700e6
    assert feature["unit"] == "monthly active users"
    assert feature["text"] == "700 million monthly active users"


def test_an_unchanged_threshold_gives_no_signal() -> None:
    assert compare_thresholds(features(LLAMA.format("700 million")), features(LLAMA.format("700 million"))) == []


def test_earlier_stored_features_are_compared_by_amount() -> None:
    stored = [{"value": 700e6, "unit": "monthly active users", "text": "700 million monthly active users"}]
    assert compare_thresholds(stored, features(LLAMA.format("700 million"))) == []
    assert compare_thresholds(stored, features(LLAMA.format("100 million"))) == [
        (1, "threshold lowered from 700 million to 100 million monthly active users")]
    assert compare_thresholds(features(LLAMA.format("100 million")), stored) == [
        (-1, "threshold raised from 100 million to 700 million monthly active users")]
    raised = [{"value": 1e9, "unit": "monthly active users", "text": "1 billion monthly active users"}]
    assert [sign for sign, _ in compare_thresholds(stored, raised)] == [-1]


def test_earlier_units_read_as_quantities() -> None:
    stored = Threshold.from_feature({"value": 5e6, "unit": "active users", "text": "5 million active users"})
    assert (stored.quantity, stored.value, stored.comparison, stored.phrasing) == ("users", 5e6, None, None)


def test_unclear_signals_carry_one_reason_in_both_signs() -> None:
    before = features(LLAMA.format("700 million"))
    after = features(LLAMA.format("seven hundred million (100,000,000)"))
    (tighter, looser) = compare_thresholds(before, after)
    assert (tighter[0], looser[0]) == (1, -1) and tighter[1] == looser[1]


def test_several_thresholds_of_one_quantity_are_matched_in_value_order() -> None:
    before = [Threshold("users", 1e6, ">", "licence_needed_above").to_feature(),
              Threshold("users", 1e8, ">", "licence_needed_above").to_feature()]
    after = [Threshold("users", 1e8, ">", "licence_needed_above").to_feature(),
             Threshold("users", 5e5, ">", "licence_needed_above").to_feature()]
    assert compare_thresholds(before, after) == [(1, "threshold lowered from 1 million to 500,000 users")]


def test_a_licence_needed_below_an_amount_tightens_when_raised() -> None:
    # The bound side is below the amount: raising it binds more people.
    before = [Threshold("employees", 10, "<", "licence_needed_above").to_feature()]
    after = [Threshold("employees", 50, "<", "licence_needed_above").to_feature()]
    assert [sign for sign, _ in compare_thresholds(before, after)] == [1]


def test_a_bare_condition_below_an_amount_is_unclear_when_changed() -> None:
    before = [Threshold("users", 10, "<", "condition").to_feature()]
    after = [Threshold("users", 50, "<", "condition").to_feature()]
    assert sorted(sign for sign, _ in compare_thresholds(before, after)) == [-1, 1]


def test_an_exemption_removed_is_unclear() -> None:
    before = features("The fee does not apply if your annual turnover is less than €10 million.")
    assert sorted(sign for sign, _ in compare_thresholds(before, [])) == [-1, 1]


def test_a_lead_in_gives_the_items_their_consequence() -> None:
    # constructed: a list item that states the threshold under a lead-in that says a licence is needed
    item = "(a) your annual revenue exceeds $1 million; or"
    assert [t.phrasing for t in find_thresholds(item)] == ["condition"]
    (threshold,) = find_thresholds(item, lead="You must obtain a commercial licence from us if:")
    assert (threshold.quantity, threshold.value, threshold.phrasing) == ("revenue", 1e6, "licence_needed_above")
    assert is_scale_threshold(item, lead="You must obtain a commercial licence from us if:")
    assert not is_scale_threshold(item)


def test_text_names_the_amount_and_its_quantity() -> None:
    # licenses/mistral/mistral-medium-3_5-modified-mit/2026-05-23_806f407.txt: the quantity is named before the amount
    (threshold,) = find_thresholds("You are not authorized to exercise any rights under this license if the global "
                                   "consolidated monthly revenue of your company (or that of your employer) exceeds "
                                   "$20 million (or its equivalent in another currency) for the preceding month.")
    assert threshold.text == "$20 million global consolidated monthly revenue"


@pytest.mark.parametrize(("text", "expected"), [
    ("700 million", (700e6, None)),
    ("seven hundred million (700,000,000)", (700e6, None)),
    ("700,000,000", (700e6, None)),
    ("$1M", (1e6, "USD")),
    ("US$1,000,000", (1e6, "USD")),
    ("FIVE U.S. DOLLARS (US$5)", (5.0, "USD")),
    ("€10 million", (10e6, "EUR")),
    ("1亿", (1e8, None)),
    ("一亿", (1e8, None)),
    ("seven hundred million (100,000,000)", None),
    ("700 million monthly active users", None),
    ("Llama 3", None),
])
def test_read_amount(text: str, expected: tuple[float, str | None] | None) -> None:
    assert read_amount(text) == expected
