"""The registry in both modes: every source with raw snapshots in ../shared/corpus extracts its terms and watched
clauses through its own selectors and with automatic location alone; the sources without snapshots have no
selectors; Meta AI's EU terms are in the registry and verified against the corpus text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.clauses import extract_clauses
from monitor.extract import check_document, extract_document
from monitor.pipeline import check_language
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
REGISTRY = yaml.safe_load((DATA / "registry" / "corpus.yaml").read_text(encoding="utf-8"))
SNAPSHOT_ROWS = {row["source"]: row for row in
                 yaml.safe_load((DATA / "extract" / "snapshots.yaml").read_text(encoding="utf-8"))}
SOURCES = {source.id: source for source in load_sources(REPO / "sources.yaml")}
CHROME = ["©", "Skip to", "Cookie settings", "Manage cookies", "Accept all cookies"]


def newest_valid_snapshot(corpus: Path, source_id: str) -> bytes:
    row = SNAPSHOT_ROWS[source_id]
    manifest = json.loads((corpus / "genai-eu-snapshots" / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest if (e["service"], e["document"]) == (row["service"], row["document"]))
    name = [name for name in entry["snapshots"] if name not in (row.get("failing") or {})][-1]
    return (corpus / "genai-eu-snapshots" / row["service"] / row["document"] / name).read_bytes()


@pytest.mark.parametrize("mode", ["selectors", "automatic"])
@pytest.mark.parametrize("source_id", sorted(REGISTRY["snapshots"]))
def test_snapshot_source_extracts_its_terms_in_both_modes(source_id: str, mode: str, corpus: Path) -> None:
    source = SOURCES[source_id]
    assert source.select, f"{source_id}: verified against snapshots, its selectors are kept"
    selectors = (source.select, source.remove) if mode == "selectors" else ((), ())
    document = extract_document(newest_valid_snapshot(corpus, source_id), format=source.format,
                                content_type="text/html", select=selectors[0], remove=selectors[1])
    assert document.method == mode
    check_document(document, expect=source.expect)
    check_language(document, source)
    assert not [text for text in CHROME if text in document.text]
    found = {category for clause in extract_clauses(document.text) for category in clause.categories}
    assert set(REGISTRY["snapshots"][source_id]["clauses"]) <= found


def test_web_pages_without_snapshots_have_no_selectors() -> None:
    unverified = [source.id for source in SOURCES.values() if source.format == "html" and source.select
                  and source.id not in SNAPSHOT_ROWS]
    assert unverified == []


def test_meta_ai_eu_terms_are_in_the_registry_and_match_the_corpus_text(corpus: Path) -> None:
    source = SOURCES["meta-ai-eu-terms-of-service"]
    assert source.url == "https://www.facebook.com/legal/eu-ai-terms" and source.language == "en"
    newest = sorted((corpus / "genai-eu-extra" / "Meta AI" / "Terms of Service").glob("*.md"))[-1]
    document = extract_document(newest.read_bytes(), format="markdown", content_type=None)
    check_document(document, expect=source.expect)
    check_language(document, source)
    assert "Meta Platforms Ireland Limited" in document.text  # the EU entity: the EU document, not another region's
