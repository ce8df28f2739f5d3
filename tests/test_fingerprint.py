"""A page served again with only its per-response parts changed keeps its fingerprint, and a capture of it is
recorded unchanged without being extracted (issue 14: extracting was most of an unchanged cycle); anything
the extraction reads changes the fingerprint, so a changed text is never taken for the latest one."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

import monitor.analysis
import monitor.pipeline.decide
from monitor.analysis import analyse_body
from monitor.extract import extract_document, page_fingerprint
from monitor.fetch import FetchResult
from monitor.pipeline import NEW_VERSION, UNCHANGED, Capture, Recorder
from monitor.pipeline.rows import latest_text_hashes
from monitor.sources import Source
from monitor.store import connect, init_database

HTML = "text/html; charset=utf-8"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
PARAGRAPHS = "".join(f"<p>{number}. You may not use Output to develop models that compete with Example, nor help "
                     f"anyone do so in the {number} ways this section lists.</p>" for number in range(1, 40))


def page(nonce: str, body: str = PARAGRAPHS, tracking_id: str | None = None) -> bytes:
    """A page as servers send it: the nonce in a CSRF meta, a CSP nonce, a script, a comment and a form field,
    and a tracking id in a link (by default the nonce too)."""
    return (f'<!doctype html><html><head><title>Terms</title><meta name="csrf-token" content="{nonce}">'
            f'<script nonce="{nonce}">window.__BUILD__="{nonce}"</script></head><body><!-- rendered {nonce} -->'
            f'<nav><a href="/terms?did={tracking_id or nonce}">Terms</a></nav><main><h1>Terms of Use</h1>{body}'
            f'</main><form><input type="hidden" name="csrf" value="{nonce}"></form></body></html>').encode()


def fingerprint(body: bytes, source: Source | None = None) -> str | None:
    source = source or terms()
    return page_fingerprint(body, format=source.format, content_type=HTML, select=source.select, remove=source.remove)


def terms(**settings: object) -> Source:
    return Source(id="example-terms", provider="Example", title="Terms", url="https://example.com/terms", **settings)


def test_the_per_response_parts_leave_the_fingerprint_as_it_was() -> None:
    assert fingerprint(page("a1")) == fingerprint(page("b2")) is not None
    # With selectors, which may read any attribute, all but the link's tracking id.
    selected = terms(select=("main",))
    assert fingerprint(page("a1", tracking_id="t"), selected) == fingerprint(page("b2", tracking_id="t"), selected)
    assert fingerprint(page("a1", tracking_id="t"), selected) != fingerprint(page("a1", tracking_id="u"), selected)


@pytest.mark.parametrize("changed", [
    PARAGRAPHS.replace("compete", "rival", 1),  # a word
    PARAGRAPHS.replace("<p>1.", '<p hidden>1.', 1),  # what is hidden
    PARAGRAPHS.replace("<p>2.", '<p style="display:none">2.', 1),
    PARAGRAPHS.replace("<p>3.", '<p class="cookie-banner">3.', 1),  # what is chrome
    PARAGRAPHS.replace("</p><p>4.", " 4.", 1),  # where a paragraph ends
    "<ol>" + PARAGRAPHS.replace("<p>", "<li>").replace("</p>", "</li>") + "</ol>",
])
def test_whatever_the_extraction_reads_changes_the_fingerprint(changed: str) -> None:
    assert fingerprint(page("a1", changed)) != fingerprint(page("a1"))


def test_the_fingerprint_follows_the_sources_selectors_and_is_the_documents() -> None:
    plain, selected = terms(), terms(select=("main",))
    assert fingerprint(page("a1"), plain) != fingerprint(page("a1"), selected)
    assert fingerprint(page("a1"), selected) != fingerprint(page("a1"), terms(select=("main",), remove=("h1",)))
    document = extract_document(page("a1"), format=None, content_type=HTML, select=selected.select)
    assert document.fingerprint == fingerprint(page("a1"), selected)


def test_a_page_also_judged_by_its_markup_has_no_fingerprint() -> None:
    # A short page is checked for challenge markers in its scripts, which the fingerprint leaves out.
    short = extract_document(page("a1", "<p>You may not use Output to compete with us.</p>" * 3), format=None,
                             content_type=HTML)
    assert short.fingerprint is None
    drifted = extract_document(page("a1"), format=None, content_type=HTML, select=("#gone",))
    assert drifted.method == "automatic" and drifted.fingerprint is None


def test_the_corpus_pages_keep_their_text_and_fingerprint_under_new_nonces(corpus: Path) -> None:
    snapshots = sorted((corpus / "genai-eu-snapshots").rglob("*.html"))[::10]
    if not snapshots:
        pytest.skip(f"no raw pages in {corpus / 'genai-eu-snapshots'}")
    for path in snapshots:
        body = path.read_bytes()
        served_again = re.sub(rb"<script([^>]*)>", rb'<script nonce="9f8e"\1>/* build 9f8e */', body)
        served_again = re.sub(rb"<!--", rb"<!-- 9f8e", served_again)
        assert fingerprint(served_again) == fingerprint(body), path
        try:
            first = extract_document(body, format="html", content_type=HTML)
        except Exception:  # noqa: BLE001 - an error page of the corpus: nothing to compare
            continue
        assert extract_document(served_again, format="html", content_type=HTML).text == first.text, path


def recorded(db_url: str, source: Source, body: bytes, minutes: int, recorder: Recorder | None = None,
             hinted: bool = True):
    """Record a capture analysed as an analysis process analyses it: with the latest text hash and the
    fingerprint the source row keeps (read before the recording transaction, as a hint)."""
    recorder = recorder or Recorder(connect(db_url))
    hint = latest_text_hashes(recorder.engine, [source.id]).get(source.id, (None, None)) if hinted else (None, None)
    result = FetchResult(url=source.url, outcome="ok", started_at=T0 + dt.timedelta(minutes=minutes), elapsed_ms=1,
                         body=body, content_type=HTML)
    return recorder.record_many([Capture(source, result, analysis=analyse_body(body, HTML, source, *hint))])[0]


def no_extraction(*args: object, **kwargs: object) -> None:
    raise AssertionError("a page of the latest text's fingerprint was extracted")


def test_a_page_with_new_nonces_is_recorded_unchanged_without_extraction(db_url: str, monkeypatch) -> None:
    init_database(connect(db_url))
    source = terms()
    assert recorded(db_url, source, page("a1"), 0).outcome == NEW_VERSION
    with monkeypatch.context() as patched:
        for module in (monitor.analysis, monitor.pipeline.decide):
            patched.setattr(module, "extract_document", no_extraction)
        again = recorded(db_url, source, page("b2"), 1)
    assert again.outcome == UNCHANGED and again.version_seq == 1
    # the text changes: extracted, a new version
    changed = recorded(db_url, source, page("c3", PARAGRAPHS.replace("compete", "rival", 1)), 2)
    assert changed.outcome == NEW_VERSION and changed.version_seq == 2


def test_a_hint_the_latest_version_has_outrun_is_extracted_again(db_url: str) -> None:
    # The analysis took the page for the latest text, but another capture recorded a new version meanwhile:
    # the recorder extracts it and compares it with the version that is latest now.
    init_database(connect(db_url))
    source, recorder = terms(), Recorder(connect(db_url))
    recorded(db_url, source, page("a1"), 0, recorder)
    hint = latest_text_hashes(recorder.engine, [source.id])[source.id]
    stale = analyse_body(page("b2"), HTML, source, *hint)
    assert stale.known_text_sha256 == hint[0] and stale.document is None
    assert recorded(db_url, source, page("c3", PARAGRAPHS.replace("compete", "rival", 1)), 1, recorder).version_seq == 2

    result = FetchResult(url=source.url, outcome="ok", started_at=T0 + dt.timedelta(minutes=2), elapsed_ms=1,
                         body=page("b2"), content_type=HTML)
    outcome = recorder.record_many([Capture(source, result, analysis=stale)])[0]
    assert (outcome.outcome, outcome.version_seq, outcome.revert_of_seq) == (NEW_VERSION, 3, 1)


def test_a_source_asking_more_of_its_text_judges_the_latest_text_again(db_url: str) -> None:
    # sources.yaml gains an `expect` phrase the latest text lacks: the page is extracted and checked, not
    # taken for the latest text by its fingerprint.
    init_database(connect(db_url))
    assert recorded(db_url, terms(), page("a1"), 0).outcome == NEW_VERSION
    stricter = terms(expect="Acceptable Use Policy")
    outcome = recorded(db_url, stricter, page("b2"), 1)
    assert (outcome.outcome, outcome.attempt_outcome) == ("failed", "invalid"), outcome
