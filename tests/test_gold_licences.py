"""The licence gold (tests/data/gold-licences.json) is well-formed and faithful to ../shared/corpus/licenses.

Every clause must occur verbatim (whitespace aside) in the newest version of its document, every event's
before and after text in the versions it names; categories are taxonomy ids and directions valid. The
document and version names must be those bench/licence_dataset.py writes, so that the scorer finds them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.licence_dataset import LICENCES, licence_versions  # noqa: E402

GOLD = REPO / "tests" / "data" / "gold-licences.json"
TAXONOMY = {
    "output_training", "competing_use", "reverse_engineering", "automated_extraction", "access_circumvention",
    "output_training_permission", "scale_threshold", "attribution_naming", "use_policy", "geographic_restriction",
}
DIRECTIONS = {"tightened", "loosened", "reworded", "unclear"}

pytestmark = pytest.mark.skipif(not LICENCES.is_dir(), reason="../shared/corpus/licenses is not there")


def squeeze(text: str) -> str:
    """The text without whitespace: Chinese lines wrap inside words, English ones between them."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def gold() -> dict:
    return json.loads(GOLD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def versions() -> dict[tuple[str, str], dict[str, str]]:
    """(service, terms type) -> version stamp -> squeezed text, as the dataset lays them out."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for version in licence_versions():
        key = (version.document.provider, version.document.title)
        found.setdefault(key, {})[version.stamp] = squeeze(version.corpus_file.read_text(encoding="utf-8"))
    return found


def test_gold_covers_at_least_eight_families(gold: dict) -> None:
    assert len({d["service"] for d in gold["documents"]}) >= 8
    assert all(d["clauses_at_head"] or d["events"] or d["notes"] for d in gold["documents"])


def test_every_gold_document_is_in_the_dataset(gold: dict, versions: dict) -> None:
    for document in gold["documents"]:
        key = (document["service"], document["terms_type"])
        assert key in versions, key
        assert document["path"] == f"{key[0]}/{key[1]}"
        assert document["version_stamps"] == list(versions[key]), key
        assert document["versions"] == len(versions[key])


def test_clause_texts_occur_in_the_newest_version(gold: dict, versions: dict) -> None:
    for document in gold["documents"]:
        newest = list(versions[(document["service"], document["terms_type"])].values())[-1]
        for clause in document["clauses_at_head"]:
            assert clause["text"].strip(), document["path"]
            assert squeeze(clause["text"]) in newest, (document["path"], clause["text"][:80])
            assert clause["categories"] and set(clause["categories"]) <= TAXONOMY, clause


def test_event_texts_occur_in_the_versions_they_name(gold: dict, versions: dict) -> None:
    for document in gold["documents"]:
        stamps = versions[(document["service"], document["terms_type"])]
        for event in document["events"]:
            assert event["direction"] in DIRECTIONS, event
            assert event["categories"] and set(event["categories"]) <= TAXONOMY, event
            assert event["before"] or event["after"], event
            assert event["version"] in stamps and event["before_version"] in stamps, event
            assert list(stamps).index(event["before_version"]) < list(stamps).index(event["version"]), event
            if event["after"]:
                assert squeeze(event["after"]) in stamps[event["version"]], (document["path"], event["after"][:80])
            if event["before"]:
                assert squeeze(event["before"]) in stamps[event["before_version"]], (document["path"], event["before"][:80])
            assert event["reason"].strip()


def test_removed_clauses_are_gone_and_added_ones_new(gold: dict, versions: dict) -> None:
    for document in gold["documents"]:
        stamps = versions[(document["service"], document["terms_type"])]
        for event in document["events"]:
            if not event["after"]:
                assert squeeze(event["before"]) not in stamps[event["version"]], event["before"][:80]
            if not event["before"]:
                assert squeeze(event["after"]) not in stamps[event["before_version"]], event["after"][:80]
