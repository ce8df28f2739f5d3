"""The source registry against the real corpus: every source with corpus material extracts its terms
and its watched clauses, and its URL agrees with where the corpus says the document lives.

What each source is checked against is data: tests/data/registry/corpus.yaml.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from click.testing import CliRunner

from monitor.clauses import CATEGORIES, extract_clauses
from monitor.extract import check_document, extract_document
from monitor.sources import Source, load_sources

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
REGISTRY = yaml.safe_load((DATA / "registry" / "corpus.yaml").read_text(encoding="utf-8"))
SNAPSHOT_ROWS = yaml.safe_load((DATA / "extract" / "snapshots.yaml").read_text(encoding="utf-8"))
SOURCES = {source.id: source for source in load_sources(REPO / "sources.yaml")}

# Page chrome that must never reach the text of a page captured through its selectors (the
# per-site lists of tests/test_sources_file.py check every snapshot; these hold on every site).
CHROME = ["©", "Skip to", "Cookie settings", "Manage cookies", "Accept all cookies"]
# "[For the original copy, see URL]": the first line a packaging overlay adds to its copies.
ORIGIN_LINE = re.compile(r"^\[For (?:the|a copy of the) original[^\]]*?see (https?://\S+?)\]\s*$", re.IGNORECASE)
MIN_TEXT = 2000  # characters: a real policy or licence, not a stub (the MIT licence is checked apart)


def _cases() -> list[pytest.param]:
    cases = [pytest.param("snapshot", source_id, row, id=source_id)
             for source_id, row in REGISTRY["snapshots"].items()]
    cases += [pytest.param("license", row["source"], row, id=row["source"]) for row in REGISTRY["licenses"]]
    cases += [pytest.param("text", row["source"], row, id=row["source"]) for row in REGISTRY["texts"]]
    return cases


CASES = _cases()


# ---------------------------------------------------------------- corpus access

@pytest.fixture(scope="module")
def license_manifest(corpus: Path) -> dict[str, list[dict]]:
    """Licence manifest entries grouped by folder (`file` without its name), in manifest order."""
    groups: dict[str, list[dict]] = {}
    for entry in json.loads((corpus / "licenses" / "manifest.json").read_text(encoding="utf-8")):
        groups.setdefault(entry["file"].rsplit("/", 1)[0], []).append(entry)
    return groups


@pytest.fixture(scope="module")
def snapshot_manifest(corpus: Path) -> dict[tuple[str, str], dict]:
    entries = json.loads((corpus / "genai-eu-snapshots" / "manifest.json").read_text(encoding="utf-8"))
    return {(entry["service"], entry["document"]): entry for entry in entries}


def newest_license_entry(entries: list[dict]) -> dict:
    """The newest text of a licence: latest manifest date, ties broken by manifest order."""
    return max(enumerate(entries), key=lambda pair: (pair[1]["date"], pair[0]))[1]


def split_origin(body: bytes) -> tuple[str | None, bytes]:
    """(original URL named on the first line, body without that line) of a corpus licence copy."""
    first, _, rest = body.partition(b"\n")
    match = ORIGIN_LINE.match(first.decode("utf-8", "replace").strip())
    return (match.group(1), rest.lstrip(b"\n")) if match else (None, body)


def raw_url(url: str) -> str:
    """A Hugging Face or GitHub 'blob' page URL as the raw file URL a source fetches."""
    if url.startswith("https://huggingface.co/"):
        return url.replace("/blob/", "/raw/", 1)
    match = re.match(r"^https://github\.com/([^/]+/[^/]+)/blob/(.+)$", url)
    return f"https://raw.githubusercontent.com/{match.group(1)}/{match.group(2)}" if match else url


def github_raw_parts(url: str) -> tuple[str, str, str] | None:
    """(owner/repo, branch, path) of a raw.githubusercontent.com URL; None for other hosts."""
    parts = urlsplit(url)
    if parts.netloc != "raw.githubusercontent.com":
        return None
    owner, repo, branch, path = parts.path.lstrip("/").split("/", 3)
    return f"{owner}/{repo}", branch, unquote(path)


def corpus_body(kind: str, source: Source, row: dict, corpus: Path, license_manifest: dict,
                snapshot_manifest: dict) -> tuple[str, bytes, str | None]:
    """(name, body, format to read it with) of the newest corpus material of a source."""
    if kind == "license":
        entry = newest_license_entry(license_manifest[row["folder"]])
        _, body = split_origin((corpus / "licenses" / entry["file"]).read_bytes())
        return entry["file"], body, row.get("format", source.format)
    if kind == "text":
        newest = sorted((corpus / "genai-eu" / row["folder"]).glob("*.md"))[-1]
        return str(newest.relative_to(corpus)), newest.read_bytes(), "markdown"
    snapshot_row = next(r for r in SNAPSHOT_ROWS if r["source"] == source.id)
    entry = snapshot_manifest[(snapshot_row["service"], snapshot_row["document"])]
    failing = snapshot_row.get("failing") or {}
    name = [name for name in entry["snapshots"] if name not in failing][-1]
    path = corpus / "genai-eu-snapshots" / snapshot_row["service"] / snapshot_row["document"] / name
    return str(path.relative_to(corpus)), path.read_bytes(), source.format


# ---------------------------------------------------------------- the parametrised check

@pytest.mark.parametrize(("kind", "source_id", "row"), CASES)
def test_source_extracts_its_terms_and_clauses_from_the_corpus(kind: str, source_id: str, row: dict,
                                                                 corpus: Path, license_manifest: dict,
                                                                 snapshot_manifest: dict) -> None:
    source = SOURCES[source_id]
    name, body, format = corpus_body(kind, source, row, corpus, license_manifest, snapshot_manifest)
    if kind == "snapshot":  # the real page through the source's own selectors
        document = extract_document(body, format=format, content_type="text/html",
                                    select=source.select, remove=source.remove)
    else:
        document = extract_document(body, format=format, content_type=None)
    check_document(document, expect=source.expect)  # raises when too short, an error page or no `expect`
    assert source.expect, f"{source_id}: no expect phrase"
    if source_id != "deepseek-r1-license":  # the MIT licence is 1,070 characters
        assert len(document.text) > MIN_TEXT, f"{name}: only {len(document.text)} characters"
    if kind == "snapshot":
        found = [text for text in CHROME if text in document.text]
        assert not found, f"{name}: page chrome in the text: {found}"
    found = {category for clause in extract_clauses(document.text) for category in clause.categories}
    expected = set(row["clauses"])
    assert expected <= set(CATEGORIES), f"unknown categories {expected - set(CATEGORIES)}"
    assert expected <= found, f"{name}: watched clauses not found: {sorted(expected - found)} (found {sorted(found)})"


# ---------------------------------------------------------------- URLs agree with the corpus

@pytest.mark.parametrize("row", REGISTRY["licenses"], ids=[row["source"] for row in REGISTRY["licenses"]])
def test_licence_source_url_agrees_with_the_corpus_manifest(row: dict, corpus: Path,
                                                            license_manifest: dict) -> None:
    source = SOURCES[row["source"]]
    entries = license_manifest[row["folder"]]
    raw = github_raw_parts(source.url)
    if raw is not None:  # a vendor repository: the same repository and path as a manifest entry
        repo, branch, path = raw
        assert (repo, path) in {(entry["repo"], entry["path"]) for entry in entries}, (
            f"{source.url} is none of {sorted({(e['repo'], e['path']) for e in entries})}")
        assert not re.fullmatch(r"[0-9a-f]{40}", branch), "watch the branch, not a pinned commit"
        return
    # a copy from a packaging overlay: its first line names the original, which the source must fetch
    origin, _ = split_origin((corpus / "licenses" / newest_license_entry(entries)["file"]).read_bytes())
    if row.get("origin") == "none":
        assert origin is None, f"the corpus now names the original {origin}: compare it with {source.url}"
        return
    assert origin is not None, f"{row['folder']}: the corpus copy names no original; mark it origin: none"
    assert raw_url(origin) == source.url


def test_every_source_with_a_corpus_licence_text_is_checked(license_manifest: dict) -> None:
    """A raw GitHub source whose file is in the licence corpus must be in the registry data."""
    located = {(entry["repo"], entry["path"]): folder
               for folder, entries in license_manifest.items() for entry in entries}
    mapped = {row["source"] for row in REGISTRY["licenses"]}
    for source in SOURCES.values():
        raw = github_raw_parts(source.url)
        if raw and (raw[0], raw[2]) in located:
            assert source.id in mapped, f"{source.id}: corpus text {located[raw[0], raw[2]]} is not checked"


def test_every_snapshot_source_is_checked(snapshot_manifest: dict) -> None:
    assert set(REGISTRY["snapshots"]) == {row["source"] for row in SNAPSHOT_ROWS}
    for row in SNAPSHOT_ROWS:
        assert SOURCES[row["source"]].url == snapshot_manifest[(row["service"], row["document"])]["url"]


def test_registry_data_names_real_sources_and_folders(corpus: Path, license_manifest: dict) -> None:
    named = list(REGISTRY["snapshots"]) + [row["source"] for row in REGISTRY["licenses"] + REGISTRY["texts"]]
    assert len(named) == len(set(named)), "a source is mapped twice"
    assert set(named) <= set(SOURCES)
    for row in REGISTRY["licenses"]:
        assert row["folder"] in license_manifest, row["folder"]
        assert SOURCES[row["source"]].kind in ("license", "policy")
    for row in REGISTRY["texts"]:
        assert list((corpus / "genai-eu" / row["folder"]).glob("*.md")), row["folder"]


# ---------------------------------------------------------------- a new provider is one YAML entry

def test_a_new_provider_is_one_yaml_entry_and_no_code(corpus: Path, tmp_path: Path) -> None:
    """Append one entry for a provider the registry does not have and check it on a real text."""
    text = corpus / "licenses" / "databricks" / "databricks-open-model-license" / "2024-10-16_5413230.txt"
    entry = {"id": "databricks-open-model-license", "provider": "Databricks",
             "title": "Databricks Open Model License", "url": "https://www.databricks.com/legal/open-model-license",
             "kind": "license", "format": "text", "schedule": "1d", "expect": "Databricks Open Model License"}
    shipped = (REPO / "sources.yaml").read_text(encoding="utf-8")
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(shipped + "\n" + textwrap.indent(yaml.safe_dump([entry], sort_keys=False), "  "),
                            encoding="utf-8")
    runner = CliRunner()
    from monitor.cli import cli

    checked = runner.invoke(cli, ["--sources", str(sources_file), "sources", "--check"])
    assert checked.exit_code == 0, checked.output
    assert f"{len(SOURCES) + 1} sources, all valid" in checked.output
    shown = runner.invoke(cli, ["--sources", str(sources_file), "check-source", entry["id"], "--file", str(text)])
    assert shown.exit_code == 0, shown.output
    assert "scale_threshold" in shown.output and shown.output.rstrip().endswith("ok")
