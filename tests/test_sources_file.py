"""sources.yaml in, checks out: it loads, and every source with corpus snapshots extracts cleanly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from monitor.errors import ExtractionError
from monitor.extract import check_document, extract_document
from monitor.sources import load_sources, parse_interval

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


# The 19 entries the registry started from (issue 5 appended to them): ids and URLs never change,
# or a source's history would be cut in two.
ORIGINAL = {
    "openai-usage-policies": "https://openai.com/policies/usage-policies/",
    "openai-services-agreement": "https://openai.com/policies/services-agreement/",
    "openai-app-developer-terms": "https://openai.com/policies/connectors-actions-terms/",
    "openai-eu-terms-of-use": "https://openai.com/policies/eu-terms-of-use/",
    "openai-service-terms": "https://openai.com/policies/service-terms/",
    "anthropic-usage-policy": "https://www.anthropic.com/legal/aup",
    "anthropic-commercial-terms": "https://www.anthropic.com/legal/commercial-terms",
    "anthropic-consumer-terms": "https://www.anthropic.com/legal/consumer-terms",
    "google-generative-ai-terms": "https://policies.google.com/terms/generative-ai?hl=en-GB&gl=IE",
    "mistral-commercial-terms": "https://legal.mistral.ai/terms/commercial-terms-of-service",
    "mistral-eu-consumer-terms": "https://legal.mistral.ai/terms/eu-consumers-terms-of-service",
    "meta-llama-api-acceptable-use-policy": "https://llama.developer.meta.com/legal/acceptable-use-policy",
    "meta-llama-api-terms-of-service": "https://llama.developer.meta.com/legal/terms-of-service",
    "microsoft-copilot-terms-of-use": "https://www.microsoft.com/en-us/microsoft-copilot/for-individuals/termsofuse",
    "qwen-chat-terms-of-service": "https://chat.qwen.ai/legal-agreement/terms-of-service",
    "meta-llama-2-community-license": "https://raw.githubusercontent.com/meta-llama/llama/main/LICENSE",
    "meta-llama-3-community-license": "https://raw.githubusercontent.com/meta-llama/llama3/main/LICENSE",
    "meta-llama-3-1-community-license":
        "https://raw.githubusercontent.com/meta-llama/llama-models/main/models/llama3_1/LICENSE",
    "meta-llama-3-2-acceptable-use-policy":
        "https://raw.githubusercontent.com/meta-llama/llama-models/main/models/llama3_2/USE_POLICY.md",
}


def test_sources_file_loads() -> None:
    sources = load_sources(REPO / "sources.yaml")
    assert len(sources) >= 40
    assert {source.kind for source in sources} == {"terms", "policy", "license"}
    assert {source.id: source.url for source in sources if source.id in ORIGINAL} == ORIGINAL
    assert [source.id for source in sources[:len(ORIGINAL)]] == list(ORIGINAL)  # new entries are appended
    licences = [source for source in sources if source.kind == "license"]
    assert len(licences) >= 20
    assert all(not source.select and not source.remove for source in licences if source.format != "html")


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


# ---------------------------------------------------------------- the whole file, entry by entry

RAW_ENTRIES = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))["sources"]
REQUIRED_FIELDS = ("id", "provider", "title", "kind", "url", "format", "schedule", "expect")
# Hosts of raw licence files: a vendor's repository, Hugging Face /raw/, or a vendor's own Markdown file.
RAW_LICENCE_URL = re.compile(
    r"^https://(raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/"
    r"|huggingface\.co/[^/]+/[^/]+/raw/[^/]+/"
    r"|mistral\.ai/licenses/[^/]+\.md$)"
)
# Licences published only as a web page (no raw file from the vendor), with the reason.
WEB_LICENCES = {
    "google-gemma-terms-of-use": "Gemma's terms exist only at ai.google.dev (the model repositories are gated)",
}
UNVERIFIED_NOTE = "no raw snapshot in the corpus"


def _comment_above(source_id: str) -> str:
    """The comment lines directly above a source's `- id:` line in sources.yaml."""
    lines = (REPO / "sources.yaml").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == f"- id: {source_id}")
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    return " ".join(comment)


def test_every_entry_is_complete_and_valid() -> None:
    ids = [entry["id"] for entry in RAW_ENTRIES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for entry in RAW_ENTRIES:
        missing = [name for name in REQUIRED_FIELDS if not entry.get(name)]
        assert not missing, f"{entry['id']}: missing {missing}"
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", entry["id"]), entry["id"]
        assert entry["url"].startswith("https://"), f"{entry['id']}: {entry['url']} is not https"
        assert parse_interval(entry["schedule"]) or CronTrigger.from_crontab(entry["schedule"])
        assert parse_interval(entry["schedule"]) is None or parse_interval(entry["schedule"]).total_seconds() >= 3600, (
            f"{entry['id']}: fetched more often than hourly")
    urls = [entry["url"] for entry in RAW_ENTRIES]
    assert len(urls) == len(set(urls)), "two entries watch the same URL"


def test_licences_are_raw_files() -> None:
    for source in SOURCES.values():
        if source.kind != "license":
            continue
        if source.id in WEB_LICENCES:
            assert source.format == "html"
            continue
        assert source.format in ("text", "markdown"), f"{source.id}: format {source.format}"
        assert RAW_LICENCE_URL.match(source.url), f"{source.id}: {source.url} is not a raw file URL"
        assert not source.select and not source.remove


def test_verified_web_pages_have_selectors_and_unverified_ones_none_and_say_so() -> None:
    verified = {row["source"] for row in ROWS}
    for source in SOURCES.values():
        if source.format != "html":
            continue
        if source.id in verified:
            assert source.select, f"{source.id}: a page verified against snapshots keeps its `select`"
            continue
        assert not source.select and not source.remove, f"{source.id}: selectors never verified on a real page"
        comment = " ".join(_comment_above(source.id).split())
        assert UNVERIFIED_NOTE in comment.lower() and f"check-source {source.id} --suggest" in comment, (
            f"{source.id}: say '{UNVERIFIED_NOTE}' and how to get a selector "
            f"(`clausewatch check-source {source.id} --suggest`) above the entry")


def test_the_registry_covers_the_providers_of_issue_5() -> None:
    providers = {source.provider for source in SOURCES.values()}
    assert {"OpenAI", "Anthropic", "Mistral AI", "xAI", "Google", "Meta", "DeepSeek", "Qwen", "Moonshot AI",
            "MiniMax", "Cohere", "Perplexity", "Microsoft", "Amazon Web Services"} <= providers
    llama = {source.id for source in SOURCES.values() if source.id.startswith("meta-llama-")}
    for version in ("2", "3", "3-1", "3-2", "3-3", "4"):
        assert {f"meta-llama-{version}-community-license", f"meta-llama-{version}-acceptable-use-policy"} <= llama
