"""sources.yaml in, checks out: it loads, and every source with corpus snapshots extracts cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.errors import ExtractionError
from monitor.extract import check_document, extract_document
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT_MAP = Path(__file__).resolve().parent / "data" / "extract" / "snapshots.yaml"
ROWS = yaml.safe_load(SNAPSHOT_MAP.read_text(encoding="utf-8"))
SOURCES = {source.id: source for source in load_sources(REPO / "sources.yaml")}

# Page chrome seen in the raw snapshots of each source (navigation, footer, cookie dialog,
# language picker, screen-reader link hints); none of it may reach the extracted text.
CHROME = {
    "openai": ["©", "Select language", "Careers", "Skip to", "opens in a new", "Terms & policies"],
    "anthropic": ["Log in", "©", "Careers", "Skip to", "Previous Version", "\nEnglish\n"],
    "google": ["Sign in", "Privacy Policy", "Français", "Opens in a new tab"],
    "mistral": ["©", "Get started", "For Commercial Customers", "Cookie Policy"],
    "meta": ["Cookie", "cookies", "Service status", "Contact us"],
    "microsoft": ["Cookie", "©", "Careers", "Skip to", "Manage cookies"],
    "qwen": ["Cookie", "©", "Try "],
}


def test_sources_file_loads() -> None:
    sources = load_sources(REPO / "sources.yaml")
    assert len(sources) == 19
    assert {source.kind for source in sources} == {"terms", "policy", "license"}
    licences = [source for source in sources if source.kind == "license"]
    assert len(licences) == 4
    assert all(source.url.startswith("https://raw.githubusercontent.com/meta-llama/") for source in licences)
    assert all(not source.select and not source.remove for source in licences)


def test_every_snapshot_document_has_a_source() -> None:
    assert {row["source"] for row in ROWS} <= set(SOURCES)
    assert len(ROWS) == 15


@pytest.fixture(scope="module")
def manifest(corpus: Path) -> dict[tuple[str, str], dict]:
    entries = json.loads((corpus / "genai-eu-snapshots" / "manifest.json").read_text(encoding="utf-8"))
    return {(entry["service"], entry["document"]): entry for entry in entries}


@pytest.mark.parametrize("row", ROWS, ids=[row["source"] for row in ROWS])
def test_source_extracts_every_valid_snapshot(row: dict, manifest: dict, corpus: Path) -> None:
    source = SOURCES[row["source"]]
    entry = manifest[(row["service"], row["document"])]
    assert source.url == entry["url"]
    failing = row.get("failing") or {}
    chrome = CHROME[source.id.split("-")[0]]
    previous = None
    for name in entry["snapshots"]:
        body = (corpus / "genai-eu-snapshots" / row["service"] / row["document"] / name).read_bytes()
        if name in failing:
            with pytest.raises(ExtractionError) as error:
                document = extract_document(body, format=source.format, content_type="text/html",
                                            select=source.select, remove=source.remove)
                check_document(document, expect=source.expect)
            assert error.value.kind == failing[name], error.value.reason
            continue
        document = extract_document(body, format=source.format, content_type="text/html",
                                    select=source.select, remove=source.remove)
        check_document(document, expect=source.expect, previous_text=previous)
        assert len(document.text) > 2000, name
        found = [text for text in chrome if text in document.text]
        assert not found, f"{name}: page chrome in the text: {found}"
        previous = document.text


def test_llama_api_error_snapshots_are_invalid(manifest: dict, corpus: Path) -> None:
    source = SOURCES["meta-llama-api-terms-of-service"]
    folder = corpus / "genai-eu-snapshots" / "Llama API" / "Terms of Service #legal-terms-of-service"
    errors = 0
    for path in sorted(folder.glob("*.html")):
        try:
            document = extract_document(path.read_bytes(), format="html", content_type=None,
                                        select=source.select, remove=source.remove)
            check_document(document, expect=source.expect)
        except ExtractionError as error:
            assert error.kind == "invalid"
            assert "isn’t available" in error.reason or "isn't available" in error.reason
            errors += 1
    assert errors == 5
