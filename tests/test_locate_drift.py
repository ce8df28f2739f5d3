"""Selector drift on both backends: selectors that stop matching fall back to automatic location, a text changed
only by that switch is a technical version, and operators get one notice, then one when the selectors match again."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from monitor.extract import extract_document
from monitor.fetch import FetchResult
from monitor.pipeline import FAILED, NEW_VERSION, UNCHANGED, Recorder
from monitor.sources import Source
from monitor.store import Version, connect, init_database, session_scope
from monitor.store.history import versions_of

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
RESTRICTIONS = """<h2>3. Restrictions</h2><p>You may not:</p><ol type="a">
<li>use Output to develop models that compete with Example, except for a Permitted Exception;</li>
<li>reverse engineer, decompile or disassemble the Services;</li>
<li>use any automated means to scrape data from the Services.</li></ol>
<h2>4. Changes</h2><p>""" + "We may update these Terms from time to time and will tell you when we do so. " * 5 + "</p>"
# The selectors pick the body of the terms; automatic location also keeps the title above it.
OLD_LAYOUT = ("<html><head><title>Terms</title></head><body><nav><a href='/'>Home</a> <a href='/p'>Pricing</a></nav>"
              "<main><h1>Terms of Use</h1><div class='legal-body'>{terms}</div></main>"
              "<footer>© Example</footer></body></html>")
NEW_LAYOUT = ("<html><head><title>Terms</title></head><body><div class='sticky top-0'><a href='/'>Home</a></div>"
              "<div class='mx-auto max-w-3xl'><h1 class='text-4xl'>Terms of Use</h1>"
              "<div class='prose'>{terms}</div></div><div class='border-t'>© Example</div></body></html>")


def source() -> Source:
    return Source(id="example-terms", provider="Example", title="Terms of Use", url="https://example.com/terms",
                  format="html", select=[".legal-body"], expect="You may not")


def fetched(page: str, minutes: int) -> FetchResult:
    return FetchResult(url="https://example.com/terms", outcome="ok", started_at=T0 + dt.timedelta(minutes=minutes),
                       elapsed_ms=5, body=page.encode(), content_type="text/html; charset=utf-8")


def test_selector_drift_is_a_technical_version_and_one_notice_then_a_recovery(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    rec = Recorder(engine)
    first = rec.record(source(), fetched(OLD_LAYOUT.format(terms=RESTRICTIONS), 0))
    assert first.outcome == NEW_VERSION and first.notices == []

    drifted = rec.record(source(), fetched(NEW_LAYOUT.format(terms=RESTRICTIONS), 1))
    assert drifted.outcome == NEW_VERSION and drifted.events == []  # the title came in: technical, no alert
    assert [notice["type"] for notice in drifted.notices] == ["selector_drift"]
    assert "selector '.legal-body' matched nothing" in drifted.notices[0]["error"]
    again = rec.record(source(), fetched(NEW_LAYOUT.format(terms=RESTRICTIONS) + " ", 2))
    assert again.outcome == UNCHANGED and again.notices == []  # one notice, not one per capture

    tightened = RESTRICTIONS.replace(", except for a Permitted Exception", "")
    changed = rec.record(source(), fetched(NEW_LAYOUT.format(terms=tightened), 3))
    assert changed.outcome == NEW_VERSION and [event["direction"] for event in changed.events] == ["tightened"]

    back = rec.record(source(), fetched(OLD_LAYOUT.format(terms=tightened), 4))
    assert back.outcome == NEW_VERSION and back.events == []
    assert [notice["type"] for notice in back.notices] == ["selector_recovered"]
    with session_scope(engine) as session:
        rows = session.execute(select(Version.seq, Version.technical, Version.extraction).order_by(Version.seq)).all()
        shown = [version["extraction"] for version in versions_of(session, "example-terms")]  # `history --json`
    assert [tuple(row) for row in rows] == [(1, False, "selectors"), (2, True, "automatic"), (3, False, "automatic"),
                                            (4, True, "selectors")]
    assert shown == ["selectors", "automatic", "automatic", "selectors"]


def test_a_new_layout_with_changed_terms_alerts_although_the_method_switched(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    rec = Recorder(engine)
    rec.record(source(), fetched(OLD_LAYOUT.format(terms=RESTRICTIONS), 0))
    tightened = RESTRICTIONS.replace(", except for a Permitted Exception", "")
    drifted = rec.record(source(), fetched(NEW_LAYOUT.format(terms=tightened), 1))
    assert [event["direction"] for event in drifted.events] == ["tightened"]
    assert [notice["type"] for notice in drifted.notices] == ["selector_drift"]


def test_an_error_page_after_a_redesign_is_a_failed_capture_naming_the_selectors(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    rec = Recorder(engine)
    rec.record(source(), fetched(OLD_LAYOUT.format(terms=RESTRICTIONS), 0))
    outcome = rec.record(source(), fetched(NEW_LAYOUT.format(terms="<p>Loading…</p>"), 1))
    assert outcome.outcome == FAILED and outcome.attempt_outcome == "invalid"
    assert outcome.error.startswith("selector '.legal-body' matched nothing, and the text found automatically fails")


def test_check_source_suggest_prints_a_selector_that_selects_the_found_block(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(NEW_LAYOUT.format(terms=RESTRICTIONS))
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - {id: example-terms, provider: Example, title: Terms of Use, url: 'https://example.com/t', "
        "select: ['.legal-body']}\n")
    done = subprocess.run([sys.executable, "-m", "monitor", "check-source", "example-terms", "--file", str(page),
                           "--suggest"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1 and "selector '.legal-body' matched nothing" in done.stderr
    assert "extraction: automatic" in done.stdout
    line = next(line for line in done.stdout.splitlines() if line.startswith("suggested select: "))
    import yaml

    suggested = yaml.safe_load(line.removeprefix("suggested select: "))
    assert suggested == ["div.mx-auto"]
    body = page.read_bytes()
    by_suggestion = extract_document(body, format="html", content_type="text/html", select=suggested)
    assert by_suggestion.method == "selectors"
    assert by_suggestion.text == extract_document(body, format="html", content_type="text/html").text
