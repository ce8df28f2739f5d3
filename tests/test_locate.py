"""Automatic location of the terms: raw pages with no `select` in, the same clauses as the hand-written selectors out."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from monitor.clauses import extract_clauses
from monitor.clauses.align import content_of
from monitor.errors import ExtractionError
from monitor.extract import check_document, extract_document
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "locate"
SOURCES = {source.id: source for source in load_sources(REPO / "sources.yaml")}
# Real snapshots of ../shared/corpus/genai-eu-snapshots (gzipped): a page whose paragraphs are <span>s beside
# the heading, under a page marked aria-hidden by its cookie dialog (Llama API); a page with no <h1> whose
# terms are one long <ol> after a few paragraphs (Qwen); two captures of unchanged terms whose links carry
# screen-reader-only text in one and not the other (OpenAI).
SNAPSHOTS = {
    "meta-llama-api-terms-of-service-2026-08-22.html.gz": "meta-llama-api-terms-of-service",
    "qwen-chat-terms-of-service-2026-08-22.html.gz": "qwen-chat-terms-of-service",
    "openai-eu-terms-of-use-2026-07-03.html.gz": "openai-eu-terms-of-use",
}


def _page(name: str) -> bytes:
    return gzip.decompress((DATA / name).read_bytes())


def _clauses(text: str, kind: str) -> set[str]:
    return {content_of(clause.text) for clause in extract_clauses(text, kind=kind)}


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_automatic_location_finds_the_clauses_the_selectors_find(name: str) -> None:
    source = SOURCES[SNAPSHOTS[name]]
    body = _page(name)
    by_selectors = extract_document(body, format="html", content_type="text/html", select=source.select,
                                    remove=source.remove)
    automatic = extract_document(body, format="html", content_type="text/html")
    wanted = _clauses(by_selectors.text, source.kind)
    found = wanted & _clauses(automatic.text, source.kind)
    assert len(found) >= 0.95 * len(wanted), sorted(wanted - found)[:5]
    assert (by_selectors.method, automatic.method) == ("selectors", "automatic")
    check_document(automatic, expect=source.expect)  # the title and the expected phrase are kept


def test_unchanged_terms_give_identical_automatic_text() -> None:
    source = SOURCES["openai-eu-terms-of-use"]
    names = ["openai-eu-terms-of-use-2026-01-29.html.gz", "openai-eu-terms-of-use-2026-07-03.html.gz"]
    by_selectors = [extract_document(_page(name), format="html", content_type="text/html", select=source.select,
                                     remove=source.remove).text for name in names]
    assert by_selectors[0] == by_selectors[1]  # the raw pages differ, the terms do not
    automatic = [extract_document(_page(name), format="html", content_type="text/html").text for name in names]
    assert automatic[0] == automatic[1]
    assert "opens in a new window" not in automatic[0] and "Select language" not in automatic[0]


def test_selectors_that_match_nothing_fall_back_to_automatic_location() -> None:
    body = _page("qwen-chat-terms-of-service-2026-08-22.html.gz")
    document = extract_document(body, format="html", content_type="text/html", select=[".legal-terms-v2"])
    assert document.method == "automatic"
    assert "Minimum Age. You must be at least 18 years old" in document.text


# A page built with a utility-CSS framework: no <main>, no <article>, the terms in a <div> of utility
# classes, between a navigation bar, a cookie banner, a sidebar of links and a footer.
UTILITY_CSS_PAGE = """<!doctype html><html><head><title>Terms | Example AI</title></head><body>
<div class="flex min-h-screen flex-col">
 <div class="sticky top-0 z-50 border-b"><a href="/">Example AI</a> <a href="/pricing">Pricing</a>
  <a href="/docs">Docs</a> <a href="/login">Log in</a></div>
 <div id="onetrust-banner-sdk" class="fixed bottom-0"><p>We use cookies to improve your experience and to
  measure how our site is used, as described in our cookie policy, which you can read at any time.</p>
  <button>Accept all cookies</button></div>
 <div class="mx-auto flex max-w-6xl gap-8 px-4">
  <div class="hidden w-64 shrink-0 lg:block"><a href="/legal/privacy">Privacy Policy</a>
   <a href="/legal/terms">Terms of Service</a> <a href="/legal/aup">Usage Policy</a></div>
  <div class="prose prose-slate max-w-none py-12">
   <h1 class="text-4xl font-bold">Terms of Service</h1>
   <p class="text-sm text-gray-500">Effective 1 March 2026</p>
   <h2 class="mt-8 text-2xl">1. Use of the Services</h2>
   <p>You may use the Services only in compliance with these Terms and all applicable laws. You are
   responsible for all activity under your account.</p>
   <h2 class="mt-8 text-2xl">2. Restrictions</h2>
   <ol class="list-decimal pl-6"><li>You may not use Output to develop models that compete with Example AI.</li>
   <li>You may not reverse engineer, decompile or extract the weights of our models.</li>
   <li>You may not use automated means to extract data from the Services, including scraping.</li></ol>
   <h2 class="mt-8 text-2xl">3. Termination</h2>
   <p>We may suspend or terminate your access to the Services at any time if you breach these Terms, with
   notice where the law requires it.</p>
  </div>
 </div>
 <div class="border-t py-8 text-sm"><p>© 2026 Example AI, Inc. All rights reserved. Example AI is a
  registered trademark of Example AI, Inc. in the United States and other countries.</p>
  <a href="/status">Status</a> <a href="/careers">Careers</a></div>
</div></body></html>"""


def test_terms_in_a_utility_css_div_are_found_without_the_page_chrome() -> None:
    document = extract_document(UTILITY_CSS_PAGE.encode(), format="html", content_type="text/html")
    assert document.title == "Terms of Service"
    lines = document.text.split("\n")
    assert lines[0] == "# Terms of Service" and lines[-1].startswith("We may suspend or terminate")
    assert "1. You may not use Output to develop models that compete with Example AI." in lines
    for chrome in ("Pricing", "cookies", "Privacy Policy", "All rights reserved"):
        assert chrome not in document.text


def test_an_error_page_found_automatically_is_still_no_version() -> None:
    page = UTILITY_CSS_PAGE.split('<div class="prose')[0] + "<h1>This page isn't available</h1></div></body></html>"
    with pytest.raises(ExtractionError):
        check_document(extract_document(page.encode(), format="html", content_type="text/html"))


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_the_suggested_selector_selects_the_block_found_automatically(name: str) -> None:
    from monitor.extract.charset import decode
    from monitor.extract.document import suggest_select
    from monitor.extract.html import compile_selectors, parse_html
    from monitor.extract.locate import locate_terms

    body = _page(name)
    suggestion = suggest_select(body, "text/html")
    root = parse_html(decode(body, "text/html", sniff_meta=True)[0])
    found = locate_terms(root)
    assert compile_selectors((suggestion,))(root) == [found], suggestion
    assert ":nth-of-type" not in suggestion or name.startswith("meta-llama"), suggestion  # stable attributes first
