"""Extract stage tests: raw captures of the real corpus in, normalised text and validity verdicts out."""

from __future__ import annotations

import difflib
import json
import zlib
from pathlib import Path

import pytest
import yaml
from diff_match_patch import diff_match_patch

from monitor.errors import ExtractionError
from monitor.extract import (
    Document,
    check_document,
    extract_document,
    guess_format,
    normalise_markdown,
    normalise_plain_text,
)
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "extract"
ROWS = yaml.safe_load((DATA / "snapshots.yaml").read_text(encoding="utf-8"))
SOURCES = {source.id: source for source in load_sources(REPO / "sources.yaml")}


def _extract(path: Path, source_id: str) -> Document:
    source = SOURCES[source_id]
    return extract_document(path.read_bytes(), format="html", content_type="text/html; charset=utf-8",
                            select=source.select, remove=source.remove)


# ---------------------------------------------------------------- snapshots over time

@pytest.mark.parametrize("row", ROWS, ids=[row["source"] for row in ROWS])
def test_consecutive_snapshots_change_only_with_the_terms(row: dict, corpus: Path) -> None:
    """Ten raw captures each (different scripts, tokens, build ids): only real edits count."""
    folder = corpus / "genai-eu-snapshots" / row["service"] / row["document"]
    manifest = json.loads((corpus / "genai-eu-snapshots" / "manifest.json").read_text(encoding="utf-8"))
    names = next(entry["snapshots"] for entry in manifest
                 if (entry["service"], entry["document"]) == (row["service"], row["document"]))
    failing = row.get("failing") or {}
    texts = [_extract(folder / name, row["source"]).text for name in names if name not in failing]
    versions = 1 + sum(1 for before, after in zip(texts, texts[1:]) if before != after)
    assert versions == row["distinct"], row.get("note")


def test_raw_snapshots_differ_while_text_does_not(corpus: Path) -> None:
    folder = corpus / "genai-eu-snapshots" / "Claude.ai" / "Terms of Service"
    paths = sorted(folder.glob("*.html"))
    assert len({path.read_bytes() for path in paths}) == len(paths)
    assert len({_extract(path, "anthropic-consumer-terms").text for path in paths}) == 1


# ---------------------------------------------------------------- Markdown and plain text

def test_a_numbered_title_line_stays_a_title_in_plain_text() -> None:
    # ChatGLM3 Model License: "3. Restrictions" heads the sentences below it; a wrapped sentence is joined.
    text = normalise_plain_text("3. Restrictions\nYou are not allowed to use this software for any military purposes."
                                "\n\n4. You may not use the\nOutputs to train models.")
    assert text.split("\n\n") == ["3. Restrictions", "You are not allowed to use this software for any military "
                                    "purposes.", "4. You may not use the Outputs to train models."]


def test_hard_wrapped_licence_paragraph_becomes_one_line(corpus: Path) -> None:
    text = normalise_plain_text(
        (corpus / "licenses" / "meta-llama" / "llama2-license" / "2023-07-18_6d4c0c2.txt").read_text(encoding="utf-8"))
    blocks = text.split("\n\n")
    assert blocks[0] == "LLAMA 2 COMMUNITY LICENSE AGREEMENT"
    assert ('"Documentation" means the specifications, manuals and documentation accompanying Llama 2 '
            "distributed by Meta at ai.meta.com/resources/models-and-libraries/llama-downloads/.") in blocks
    grant = next(block for block in blocks if block.startswith("a. Grant of Rights."))
    assert "non-exclusive, worldwide, non-transferable and royalty-free limited license" in grant
    assert "\n" not in grant
    assert any(block.startswith("v. You will not use the Llama Materials or any output") for block in blocks)


def test_lineage_markdown_licence_is_normalised(corpus: Path) -> None:
    folder = corpus / "licenses-lineage" / "Meta Llama" / "Community License"
    text = normalise_markdown((folder / "2024-04-15T00-00-00Z.md").read_text(encoding="utf-8"))
    assert all("\n" not in block.strip() for block in text.split("\n\n"))
    assert "to improve any other large language model" in " ".join(text.split())


def test_item_markers_start_new_blocks() -> None:
    source = ("You will not:\n(a) copy the Services;\n(b) resell them; or\n  i. sublicense\n"
              "- a bullet\n• another bullet\n* a star\n+ a plus\nD.4. Reverse engineering.\n"
              "Section 3. Fees\n1. One\n2) Two\n(iv) four")
    assert normalise_plain_text(source).split("\n\n") == [
        "You will not:", "(a) copy the Services;", "(b) resell them; or", "i. sublicense", "- a bullet",
        "- another bullet", "- a star", "- a plus", "D.4. Reverse engineering.", "Section 3. Fees", "1. One",
        "2) Two", "(iv) four"]


def test_markdown_headings_lists_tables_links_and_emphasis() -> None:
    source = """Usage policies
==============

Effective: **29 October 2025**

What's covered
--------------

### Scope

You can [learn more](https://openai.com/safety/x?utm=1a2b3c) ![logo](https://x/y.png) about __our__ *rules*.

*   Protect people:
    1.  no threats
    2.  no harassment
*   Respect privacy

| Entity | Location |
| --- | --- |
| Meta Platforms, Inc. | United States |
"""
    assert normalise_markdown(source).split("\n\n") == [
        "# Usage policies", "Effective: 29 October 2025", "## What's covered", "### Scope",
        "You can learn more about our rules.", "- Protect people:", "  1. no threats", "  2. no harassment",
        "- Respect privacy", "| Entity | Location |", "| Meta Platforms, Inc. | United States |"]


def test_noise_is_removed_and_quotes_are_kept() -> None:
    source = ("Updated: 3 days ago\n\nLast updated 5 minutes ago\n\nWe’ll use “Outputs”&nbsp;to   improve"
              "\u00a0it\u200b.\n\nAccept all cookies\n\nSame block\n\nSame block\n\nUpdated 12 days ago")
    assert normalise_markdown(source).split("\n\n") == ["We’ll use “Outputs” to improve it.", "Same block"]


def test_repeated_title_block_is_dropped(corpus: Path) -> None:
    """Le Chat's archived Markdown repeats 'Commercial Terms of Service / Effective:May 28, 2026'."""
    text = normalise_markdown(
        (corpus / "genai-eu" / "Le Chat" / "Commercial Terms" / "2026-05-28T22-31-21Z.md").read_text(encoding="utf-8"))
    blocks = text.split("\n\n")
    assert blocks[:3] == ["# Commercial Terms of Service", "Effective:28 May 2026", blocks[2]]
    assert not blocks[2].startswith("#")


@pytest.mark.parametrize(("service", "markdown_document", "html_document", "stamp", "source_id"), [
    ("Claude.ai", "Commercial Terms", "Commercial Terms", "2025-11-11T15-22-52Z", "anthropic-commercial-terms"),
    ("ChatGPT", "Commercial Terms", "Commercial Terms", "2025-11-11T15-21-44Z", "openai-services-agreement"),
])
def test_archived_markdown_and_raw_html_agree(corpus: Path, service: str, markdown_document: str,
                                               html_document: str, stamp: str, source_id: str) -> None:
    """The Open Terms Archive Markdown and the raw page of the same capture give the same text.

    Measured: Claude commercial terms 0.987 of blocks identical (only the archive's
    "Previous Version" link text differs, which the selector leaves out); OpenAI services
    agreement 1.000.
    """
    markdown = normalise_markdown(
        (corpus / "genai-eu" / service / markdown_document / f"{stamp}.md").read_text(encoding="utf-8"))
    html = _extract(corpus / "genai-eu-snapshots" / service / html_document / f"{stamp}.html", source_id).text
    ratio = difflib.SequenceMatcher(None, markdown.split("\n\n"), html.split("\n\n"), autojunk=False).ratio()
    assert ratio > 0.98
    assert _character_similarity(markdown, html) > 0.99


def _character_similarity(a: str, b: str) -> float:
    """1 - edit distance / length, by diff-match-patch (linear in practice; difflib on characters took 12 s here)."""
    matcher = diff_match_patch()
    matcher.Diff_Timeout = 0
    distance = matcher.diff_levenshtein(matcher.diff_main(a, b, False))
    return 1 - distance / max(len(a), len(b), 1)


# ---------------------------------------------------------------- HTML specifics

def test_html_lists_selection_and_removal() -> None:
    page = b"""<html><head><title>T</title><style>p{}</style></head><body>
    <nav>Home</nav><main><h1>Terms</h1><div class="x">drop me</div>
    <ol start="3"><li>three</li><li>(b) own marker</li></ol>
    <ol type="a"><li>alpha<ul><li>nested</li></ul></li><li>beta</li></ol>
    <ol type="i"><li>one</li><li>two</li></ol>
    <p hidden>hidden</p><p aria-hidden="true">aria</p><button>Accept</button><script>x()</script>
    <p>Text with <a href="https://x?id=abc123">a link</a> and&nbsp;entity &amp; more.</p>
    <table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td><p>2</p></td></tr></table>
    </main><aside><p>Side</p></aside><main><p>second main</p></main></body></html>"""
    document = extract_document(page, format=None, content_type="text/html", select=["main", "main p"],
                                remove=[".x"])
    assert document.title == "Terms"
    assert document.text.split("\n\n") == [
        "# Terms", "3. three", "(b) own marker", "a. alpha", "  - nested", "b. beta", "i. one", "ii. two",
        "Text with a link and entity & more.", "| A | B |", "| 1 | 2 |", "second main"]


def test_collapsed_accordion_and_tab_panels_are_read_and_other_hidden_elements_are_not() -> None:
    # Constructed: a terms page whose sections the reader opens one at a time. What they hide is the
    # document; a hidden dialog or a plain hidden element is not.
    filler = "".join(f"<p>{i}. These terms govern your use of the services, paragraph {i} of many.</p>" for i in range(12))
    page = f"""<html><body><main><h1>Terms of Use</h1>{filler}
    <div role="tabpanel" hidden><p>A. You may not resell the Services.</p></div>
    <div class="accordion-collapse collapse" style="display: none"><p>B. You may not scrape the Services.</p></div>
    <section hidden="until-found"><p>C. You may not reverse engineer the Services.</p></section>
    <div class="modal" style="display:none"><p>Sign up for our newsletter</p></div>
    <p hidden>hidden note</p></main></body></html>""".encode()
    text = extract_document(page, format="html", content_type="text/html").text
    assert "A. You may not resell" in text and "B. You may not scrape" in text and "C. You may not reverse" in text
    assert "newsletter" not in text and "hidden note" not in text


def test_a_consent_managers_collapsed_container_is_still_hidden() -> None:
    from lxml import etree

    from monitor.extract.html import _hidden

    banner = etree.fromstring('<div id="onetrust-banner-sdk" class="ot-collapse" style="display:none"/>')
    panel = etree.fromstring('<div class="accordion-collapse" style="display:none"/>')
    assert _hidden(banner) and not _hidden(panel)


def test_selector_matching_nothing_falls_back_to_automatic_location_which_the_checks_judge() -> None:
    document = extract_document(b"<html><body><p>x</p></body></html>", format="html", content_type=None,
                                select=["main"])
    assert (document.method, document.text) == ("automatic", "x")
    with pytest.raises(ExtractionError, match="too short"):
        check_document(document)


def test_charset_and_format_guessing() -> None:
    latin = "<html><head><meta charset='iso-8859-1'></head><body><p>Société</p></body></html>".encode("latin-1")
    assert extract_document(latin, format=None, content_type=None).text == "Société"
    assert extract_document("<p>Soci\u00e9t\u00e9</p>".encode("cp1252"), format="html",
                            content_type="text/html; charset=windows-1252").text == "Société"
    assert guess_format(b"%PDF-1.4", None) == "pdf"
    assert guess_format(b"# Title\n\ntext", None) == "markdown"
    assert guess_format(b"LICENSE\n\ntext", "text/plain; charset=utf-8") == "text"


# ---------------------------------------------------------------- blocked pages

@pytest.mark.parametrize("name", ["cloudflare-challenge.html", "cloudflare-blocked.html", "captcha.html",
                                  "access-denied.html", "login-wall.html"])
def test_challenge_and_login_pages_are_blocked(name: str) -> None:
    for select in ((), ("main",)):
        with pytest.raises(ExtractionError) as error:
            extract_document((DATA / name).read_bytes(), format="html", content_type="text/html", select=select)
        assert error.value.kind == "blocked", error.value.reason


def test_real_terms_pages_are_not_blocked(corpus: Path) -> None:
    """Terms say 'access', 'sign in' and 'captcha'-like words; whole pages must still pass."""
    for path in sorted((corpus / "genai-eu-snapshots").glob("*/*/*.html"))[::7]:
        try:
            extract_document(path.read_bytes(), format="html", content_type=None)
        except ExtractionError as error:
            assert error.kind != "blocked", f"{path}: {error.reason}"


def test_blocked_text_fails_check_document() -> None:
    with pytest.raises(ExtractionError) as error:
        check_document(Document("Just a moment...", "Verify you are human by completing the action below."))
    assert error.value.kind == "blocked"


# ---------------------------------------------------------------- check_document

TERMS = " ".join(["You may not use Outputs to develop models that compete with us."] * 10)


def test_check_document_accepts_real_terms() -> None:
    check_document(Document("Terms", TERMS), expect="develop   MODELS that compete", previous_text=TERMS)


@pytest.mark.parametrize(("text", "options", "reason"), [
    (TERMS, {"expect": "Acceptable Use Policy"}, "expected phrase 'Acceptable Use Policy' is missing"),
    (TERMS, {"previous_text": TERMS * 3}, "far shorter than the previous version"),
    ("Terms apply.", {}, "text too short"),
    ("This page isn’t available\n\nAn unexpected error has occurred. Try reloading the page.", {}, "error page"),
    ("This page isn't available", {}, "error page"),
    ("Redirecting to https://legal.mistral.ai/terms/commercial-terms-of-service", {}, "redirect stub"),
    ("# 404\n\nPage not found. The page you are looking for does not exist.", {}, "error page"),
])
def test_check_document_rejects(text: str, options: dict, reason: str) -> None:
    with pytest.raises(ExtractionError) as error:
        check_document(Document("", text), **options)
    assert error.value.kind == "invalid"
    assert reason in error.value.reason
    assert "\n" not in error.value.reason


def test_llama_api_error_page_from_archive_is_invalid(corpus: Path) -> None:
    folder = corpus / "genai-eu" / "Llama API" / "Terms of Service"
    verdicts = []
    for path in sorted(folder.glob("*.md")):
        document = extract_document(path.read_bytes(), format="markdown", content_type=None)
        try:
            check_document(document, expect="Terms")
            verdicts.append("ok")
        except ExtractionError as error:
            verdicts.append(error.kind)
    assert verdicts.count("invalid") == 43
    assert verdicts.count("ok") == 53


# ---------------------------------------------------------------- PDF

def _pdf(lines: list[str]) -> bytes:
    """A minimal one-font PDF with one page per 50 lines (pure Python, no dependency)."""
    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    pages = [lines[start:start + 50] for start in range(0, len(lines), 50)]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for page in pages:
        stream = "BT /F1 9 Tf 11 TL 40 800 Td " + " ".join(f"({escape(line)}) Tj T*" for line in page) + " ET"
        data = zlib.compress(stream.encode("latin-1"))
        objects.append(f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode("latin-1") + data
                       + b"\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objects)} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + (body if isinstance(body, bytes) else body.encode("latin-1"))
        out += b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_licence_text_is_extracted(corpus: Path) -> None:
    licence = (corpus / "licenses" / "meta-llama" / "llama2-license" / "2023-07-18_6d4c0c2.txt").read_text(
        encoding="utf-8")
    body = _pdf([line.rstrip() for line in licence.splitlines()])
    document = extract_document(body, format=None, content_type="application/pdf")
    flat = " ".join(document.text.split())
    assert "LLAMA 2 COMMUNITY LICENSE AGREEMENT" in document.text
    assert ("You will not use the Llama Materials or any output or results of the Llama Materials to "
            "improve any other large language model (excluding Llama 2 or derivative works thereof).") in flat
    # The minimal writer's empty lines do not survive pypdf's text extraction, so paragraphs
    # run together; the sentences themselves must come out whole.
    assert "\n" not in document.text.split("\n\n")[0]
