"""Hostile bodies on the fetch and ingest path (issue 18 items 2, 8, 12; issue 17 item 5): each fails its own
capture, with the reason, and never stops the cycle, its alerts or their delivery; garbage never becomes a
version; pathological text costs bounded work."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hostile import nested_divs, pdf_bomb, random_bytes
from test_alerts import clausewatch
from test_pipeline import FILLER, T0, TERMS as PIPELINE_TERMS
from monitor.analysis import ANALYSIS_ERROR, analyse_body
from monitor.clauses import extract_clauses
from monitor.extract import check_document, extract_document
from monitor.fetch import FetchResult
from monitor.pipeline import FAILED, NEW_VERSION, Capture, Recorder, ingest_file, run_cycle
from monitor.sources import Source
from monitor.store import ChangeEvent, FetchAttempt, SourceRow, Version, connect, init_database, session_scope

TERMS = PIPELINE_TERMS.format(extra=FILLER)
TIGHTENED = TERMS.replace(", except for a Permitted Exception", "")
NUL_PAGE = ("<html><head><title>Terms\0 of Use</title></head><body><main><h1>Terms of\0 Use</h1>"
            "<p>You may not use Output to develop models that compete with Example.\0</p><p>"
            + FILLER + "</p></main></body></html>")


def entry(source_id: str, url: str, **fields: object) -> dict:
    return {"id": source_id, "provider": "Example", "title": source_id, "url": url, "allow_private": True,
            "respect_robots": False, **fields}


def test_run_once_over_hostile_sources_still_alerts_and_delivers_the_good_ones_tightening(
        db_url, local_server, tmp_path) -> None:
    local_server.serve("/terms.md", TERMS, content_type="text/markdown; charset=utf-8")
    local_server.serve("/bomb.pdf", pdf_bomb(), content_type="application/pdf")
    local_server.serve("/garbage", random_bytes(2 * 1024 * 1024), content_type="text/html")
    local_server.serve("/nul", NUL_PAGE)
    sources = [entry("good", local_server.url("/terms.md"), format="markdown"),
               entry("pdf-bomb", local_server.url("/bomb.pdf")),
               entry("garbage", local_server.url("/garbage")),
               entry("nul", local_server.url("/nul"))]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    (tmp_path / "clausewatch.yaml").write_text("channels:\n  log: {kind: jsonl, path: delivered.jsonl}\n"
                                               "operators:\n  channels: [log]\noutbox:\n  backoff: 0\n")
    assert clausewatch("--db", db_url, "init", cwd=tmp_path).returncode == 0

    for cycle in range(3):  # three failures in a row make a source_failing notice
        if cycle == 2:
            local_server.serve("/terms.md", TIGHTENED, content_type="text/markdown; charset=utf-8")
        done = clausewatch("--db", db_url, "run", "--once", "--quiet", cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr  # some sources failed; the cycle finished
        assert "failed 2" in done.stdout, done.stdout

    delivered = [json.loads(line) for line in (tmp_path / "delivered.jsonl").read_text().splitlines()]
    assert any(item.get("source") == "good" and item.get("direction") == "tightened" for item in delivered)
    failing = {item["source"]: item for item in delivered if item.get("type") == "source_failing"}
    assert set(failing) == {"pdf-bomb", "garbage"}
    assert failing["pdf-bomb"]["failure"] == "too_large" and "PDF over a size limit" in failing["pdf-bomb"]["error"]
    assert failing["garbage"]["failure"] == "invalid" and "not text" in failing["garbage"]["error"]

    engine = connect(db_url)
    with session_scope(engine) as session:
        attempts = session.execute(select(FetchAttempt.source_id, FetchAttempt.outcome, FetchAttempt.error)).all()
        versions = session.execute(select(Version.source_id, Version.title, Version.text)).all()
    engine.dispose()
    assert sorted(outcome for source_id, outcome, _ in attempts if source_id == "pdf-bomb") == ["too_large"] * 3
    assert all(error for source_id, _, error in attempts if source_id in ("pdf-bomb", "garbage"))
    assert sorted(source_id for source_id, _, _ in versions) == ["good", "good", "nul"]
    nul_title, nul_text = next((title, text) for source_id, title, text in versions if source_id == "nul")
    # libxml2 reads a NUL in HTML as U+FFFD, as browsers do; a NUL in any other format is dropped (below)
    assert "\0" not in nul_title + nul_text and "compete with Example" in nul_text


# ---------------------------------------------------------------- failure isolation in the recorder

def source(**overrides: object) -> Source:
    fields = {"id": "example-terms", "provider": "Example", "title": "Terms of Use",
              "url": "https://example.com/terms", "format": "markdown"}
    return Source(**{**fields, **overrides})


def fetched(body: bytes | str, minutes: int = 0, content_type: str = "text/markdown") -> FetchResult:
    return FetchResult(url="https://example.com/terms", outcome="ok", started_at=T0 + dt.timedelta(minutes=minutes),
                       elapsed_ms=5, body=body.encode() if isinstance(body, str) else body,
                       content_type=content_type)


def recorder(db_url: str) -> Recorder:
    engine = connect(db_url)
    init_database(engine)
    return Recorder(engine, failing_after=1)


def test_an_error_no_check_foresaw_is_an_analysis_error_of_that_capture_only(db_url, monkeypatch) -> None:
    rec = recorder(db_url)

    def explode(text: str, kind: str | None = None) -> list:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("monitor.analysis.extract_clauses", explode)  # where a body is classified
    outcome = rec.record_or_fail(Capture(source(), fetched(TERMS)))
    assert outcome.outcome == FAILED and outcome.attempt_outcome == ANALYSIS_ERROR
    assert outcome.error == "analysis failed: RecursionError: maximum recursion depth exceeded"
    assert outcome.notices[0]["type"] == "source_failing" and outcome.notices[0]["failure"] == ANALYSIS_ERROR
    with session_scope(rec.engine) as session:
        assert session.execute(select(FetchAttempt.outcome, FetchAttempt.error)).one() == (ANALYSIS_ERROR,
                                                                                            outcome.error)
        assert session.execute(select(Version)).first() is None


def test_a_capture_the_database_refuses_is_stored_as_a_failed_capture(db_url, monkeypatch) -> None:
    rec = recorder(db_url)
    assert rec.record(source(id="other"), fetched(TERMS)).outcome == NEW_VERSION

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    monkeypatch.setattr("monitor.pipeline.recorder.insert_clauses", refuse)
    outcome = rec.record_or_fail(Capture(source(), fetched(TERMS)))
    assert outcome.outcome == FAILED and outcome.attempt_outcome == ANALYSIS_ERROR
    assert outcome.error.startswith("could not be stored: ValueError: A string literal cannot contain NUL")
    with session_scope(rec.engine) as session:
        row = session.get(SourceRow, "example-terms")
        assert row is not None and row.failures_in_a_row == 1
        assert session.execute(select(Version.source_id)).scalars().all() == ["other"]
        assert session.execute(select(FetchAttempt.outcome).where(FetchAttempt.source_id == "example-terms")
                               ).scalars().all() == [ANALYSIS_ERROR]


def test_the_worker_path_fails_a_pdf_bomb_alone_and_stores_the_other_captures(db_url, local_server) -> None:
    """Eight sources start the worker processes: the bomb is analysed in one of them, beside good pages."""
    from monitor.fetch import FetchSettings

    local_server.serve("/bomb.pdf", pdf_bomb(), content_type="application/pdf")
    sources = [Source(id="bomb", provider="Example", title="Bomb", url=local_server.url("/bomb.pdf"),
                      allow_private=True, respect_robots=False)]
    for number in range(8):
        url = local_server.serve(f"/terms{number}.md", TERMS + f"\n\nVersion {number}.\n",
                                 content_type="text/markdown; charset=utf-8")
        sources.append(Source(id=f"good-{number}", provider="Example", title="Terms", url=url, format="markdown",
                              allow_private=True, respect_robots=False))
    rec = recorder(db_url)
    settings = FetchSettings(read_timeout=5, total_timeout=20, retries=0, respect_robots=False, per_host=20)
    summary = run_cycle(rec, sources, settings, analysis_processes=1)
    outcomes = {outcome.source_id: outcome for outcome in summary.outcomes}
    assert outcomes["bomb"].attempt_outcome == "too_large" and summary.new_versions == 8


# ---------------------------------------------------------------- NUL

def test_nul_never_reaches_the_database_in_any_format(db_url) -> None:
    rec = recorder(db_url)
    html_source = source(id="html", format="html")
    assert rec.record(html_source, fetched(NUL_PAGE, content_type="text/html")).outcome == NEW_VERSION
    markdown = TERMS.replace("Restrictions", "Restr\0ictions").replace("Example,", "Example\0,")
    assert rec.record(source(id="markdown"), fetched(markdown)).outcome == NEW_VERSION
    plain = TERMS.replace("#", "").replace("(b)", "\0(b)")
    assert rec.record(source(id="text", format="text"), fetched(plain, content_type="text/plain")).outcome == NEW_VERSION
    with session_scope(rec.engine) as session:
        texts = session.execute(select(Version.title, Version.text)).all()
        clause_texts = session.execute(select(ChangeEvent.after)).scalars().all()
    assert len(texts) == 3 and not any("\0" in title + text for title, text in texts)
    assert "Restrictions" in texts[1].text and not any("\0" in (text or "") for text in clause_texts)


# ---------------------------------------------------------------- garbage (item 8; issue 17 item 5)

@pytest.mark.parametrize("content_type", ["text/html", "text/plain", None, "text/html; charset=shift_jis",
                                          "text/plain; charset=utf-16"])
def test_random_bytes_are_not_text_whatever_they_are_served_as(content_type: str | None) -> None:
    analysis = analyse_body(random_bytes(200_000), content_type, source(format=None))
    assert analysis.error_kind is None and analysis.clauses is None  # the history-free check refused it
    with pytest.raises(Exception) as refused:
        check_document(analysis.document)
    assert refused.value.kind == "invalid" and str(refused.value).startswith("not text: ")


def test_garbage_after_a_good_version_is_a_failed_fetch_not_a_version_nor_loosened_events(db_url) -> None:
    rec = recorder(db_url)
    html = source(format=None, expect=None)
    assert rec.record(html, fetched(TERMS)).outcome == NEW_VERSION
    garbage = rec.record_or_fail(Capture(html, fetched(random_bytes(2 * 1024 * 1024), 1, "text/html")))
    assert garbage.outcome == FAILED and garbage.attempt_outcome == "invalid" and garbage.events == []
    with session_scope(rec.engine) as session:
        assert len(session.execute(select(Version.id)).all()) == 1
        assert session.execute(select(ChangeEvent)).first() is None


def test_ingesting_random_bytes_as_format_auto_is_invalid_not_version_one(db_url, tmp_path) -> None:
    rec = recorder(db_url)
    path = tmp_path / "capture.bin"
    path.write_bytes(random_bytes(200_000))
    outcome = ingest_file(rec, source(format=None, expect=None), str(path), at=T0)
    assert outcome.outcome == FAILED and outcome.attempt_outcome == "invalid" and "not text" in outcome.error
    with session_scope(rec.engine) as session:
        assert session.execute(select(Version)).first() is None
        assert session.execute(select(FetchAttempt.outcome)).scalars().all() == ["invalid"]


# ---------------------------------------------------------------- pathological text (item 12)

def test_a_long_line_of_one_sentence_is_refused_before_it_is_analysed() -> None:
    sentence = b"You may not use the Output to develop models that compete with OpenAI. "
    analysis = analyse_body(sentence * (2_500_000 // len(sentence)), "text/plain", source(format=None))
    assert analysis.clauses is None
    with pytest.raises(Exception) as refused:
        check_document(analysis.document)
    assert str(refused.value).startswith("text too long: 2,4") and "(maximum 2,000,000)" in str(refused.value)


def test_an_overlong_clause_fails_the_capture_instead_of_taking_minutes() -> None:
    from monitor.clauses import MAX_SEGMENT_CHARACTERS

    line = "you may not use the output to develop models that compete with us " * 2000  # one clause
    assert MAX_SEGMENT_CHARACTERS < len(line) < 2_000_000
    with pytest.raises(Exception) as refused:
        extract_clauses(TERMS + "\n\n" + line)
    assert refused.value.kind == "invalid" and "(maximum 20,000)" in str(refused.value)


def test_too_many_clauses_fail_the_capture() -> None:
    from monitor.clauses import MAX_SEGMENTS

    many = "\n\n".join(f"{number}. You may not use Output number {number} to compete." for number in range(1, 2 * MAX_SEGMENTS))
    with pytest.raises(Exception) as refused:
        extract_clauses(many)
    assert refused.value.kind == "invalid" and f"over {MAX_SEGMENTS:,} clauses" in str(refused.value)


def test_text_nested_in_a_hundred_thousand_divs_is_extracted() -> None:
    inner = "You may not use Output to develop models that compete with Example. " * 5
    document = extract_document(nested_divs(100_000, inner).encode(), format="html", content_type="text/html",
                                select=["main"])
    assert inner.strip() in document.text and document.text.endswith("Last paragraph, after the nesting.")
    check_document(document)


def test_classifying_past_the_deadline_is_an_analysis_error(monkeypatch) -> None:
    monkeypatch.setattr("monitor.clauses.ANALYSIS_SECONDS", -1.0)  # already past: no clock is waited on
    with pytest.raises(Exception) as stopped:
        extract_clauses(TERMS)
    assert stopped.value.kind == ANALYSIS_ERROR and "stopped at clause 1 of" in str(stopped.value)


def test_a_failing_database_is_raised_not_blamed_on_the_capture(db_url, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    rec = recorder(db_url)

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr("monitor.pipeline.recorder.insert_clauses", unreachable)
    with pytest.raises(OperationalError):
        rec.record_or_fail(Capture(source(), fetched(TERMS)))
    with session_scope(rec.engine) as session:
        assert session.execute(select(FetchAttempt)).first() is None


def test_a_deep_page_with_names_and_text_lxml_refuses_is_still_read() -> None:
    inner = "You may not use Output to develop models \x01that compete with Example. " * 5
    page = nested_divs(300, inner).replace("<div>", "<div b\u00bcw=1 :x=2 data-ok='\x02yes' hidden>", 1)
    page = page.replace("<div>", "<sp\u00bcan><div>", 1)
    document = extract_document(page.encode(), format="html", content_type="text/html", select=["main"],
                                remove=["[data-ok]"])
    assert document.text == "# Terms of Use\n\nLast paragraph, after the nesting."  # the hidden div is gone
    shown = extract_document(page.replace(" hidden", "").encode(), format="html", content_type="text/html")
    assert "that compete with Example." in shown.text and "\x01" not in shown.text
