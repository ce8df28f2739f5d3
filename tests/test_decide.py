"""What a capture is, decided from plain values (no database): each outcome the recorder then writes."""

from __future__ import annotations

import datetime as dt
import hashlib

from monitor.analysis import Analysis, analyse_body
from monitor.clauses import extract_clauses
from monitor.extract import Document
from monitor.extract.document import AUTOMATIC, SELECTORS
from monitor.fetch import FetchResult
from monitor.pipeline.capture import Capture, LatestVersion
from monitor.pipeline.decide import (Comparison, Failed, NewText, NewVersion, Notice, NotModified, PreviousState,
                                     Unchanged, decide_capture, decide_version)
from monitor.sources import Source
from test_pipeline import FILLER, TERMS

FAILING_AFTER = 3
A = TERMS.format(extra=FILLER)
B = A.replace(", except for a Permitted Exception", "")  # (a) tightened: its exception is gone
PAGE = "<html><body><nav>Home</nav><div class='terms'>" + "".join(
    f"<p>{paragraph}</p>" for paragraph in A.replace("#", "").split("\n\n")) + "</div></body></html>"


def source(**overrides: object) -> Source:
    fields = {"id": "example-terms", "provider": "Example", "title": "Terms of Use",
              "url": "https://example.com/terms", "format": "markdown"}
    return Source(**{**fields, **overrides})


def fetched(body: str, outcome: str = "ok", content_type: str = "text/markdown") -> FetchResult:
    return FetchResult(url="https://example.com/terms", outcome=outcome,
                       started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), elapsed_ms=5,
                       body=body.encode(), content_type=content_type, error=None if outcome == "ok" else "boom")


def capture(text: str, analysed: bool = True, **options: object) -> Capture:
    result = fetched(text)
    analysis = analyse_body(result.body, result.content_type, source()) if analysed else None
    return Capture(source(), result, analysis=analysis, **options)


def latest(text: str, seq: int = 1, **fields: object) -> LatestVersion:
    return LatestVersion(10 + seq, seq, text, hashlib.sha256(text.encode()).hexdigest(), **fields)


def decide(previous: PreviousState, what: Capture) -> object:
    return decide_capture(previous, what, FAILING_AFTER)


def test_a_304_ends_a_streak_and_a_failing_source_recovers() -> None:
    assert decide(PreviousState(failures_in_a_row=1), Capture(source(), fetched("", "not_modified"))) == NotModified()
    recovered = decide(PreviousState(failures_in_a_row=4), Capture(source(), fetched("", "not_modified")))
    assert recovered == NotModified(notices=(Notice("source_recovered", 4),), failures_in_a_row=0)


def test_a_failed_fetch_extends_the_streak_and_notifies_once_when_the_source_becomes_failing() -> None:
    streaks = [decide(PreviousState(failures_in_a_row=n), Capture(source(), fetched("", "http_error")))
               for n in range(4)]
    assert [decision.failures_in_a_row for decision in streaks] == [1, 2, 3, 4]
    assert [decision.notices for decision in streaks] == [(), (), (Notice("source_failing", 3, "http_error", "boom"),), ()]
    assert all(isinstance(decision, Failed) and not decision.keep_body for decision in streaks)


def test_a_body_known_to_give_the_latest_text_is_unchanged_without_being_read() -> None:
    # the body is empty: read, it would be an invalid capture
    known = PreviousState(latest(A), failures_in_a_row=3, known=Document(title="Terms", text=A))
    decision = decide(known, Capture(source(), fetched("")))
    assert decision == Unchanged(11, 1, (Notice("source_recovered", 3),))


def test_a_text_that_is_the_latest_version_s_is_unchanged() -> None:
    text = capture(A).analysis.document.text
    assert decide(PreviousState(latest(text, seq=4)), capture(A + "\n\n")) == Unchanged(14, 4)


def test_a_body_that_makes_no_valid_text_fails_and_the_first_of_a_streak_is_kept() -> None:
    stub = "# Terms\n\nLoading."
    first = decide(PreviousState(latest(A)), capture(stub))
    assert isinstance(first, Failed) and first.kind == "invalid" and "too short" in first.error
    assert first.keep_body and first.compressed_body and first.failures_in_a_row == 1
    assert not decide(PreviousState(latest(A), failures_in_a_row=1), capture(stub)).keep_body
    assert not decide(PreviousState(latest(A), body_stored=True), capture(stub)).keep_body


def test_a_first_text_is_a_first_version_with_no_events() -> None:
    previous = PreviousState()
    new = decide(previous, capture(A))
    assert isinstance(new, NewText) and new.clauses and new.language == "en"
    version = decide_version(previous, capture(A), new, Comparison())
    assert (version.seq, version.events, version.technical, version.revert_of, version.compared) == (1, (), False,
                                                                                                      None, False)
    assert version.clauses == new.clauses


def test_a_tightened_clause_is_an_event_that_alerts() -> None:
    previous = PreviousState(latest(A, seq=2, clauses=tuple(extract_clauses(A)), language="en"))
    new = decide(previous, capture(B))
    version = decide_version(previous, capture(B), new, Comparison(((2, previous.latest.text_sha256),),
                                                                   previous.latest))
    assert isinstance(version, NewVersion) and version.seq == 3 and version.compared
    assert [(event.change.direction, event.alert) for event in version.events] == [("tightened", True)]
    assert version.previous_version_id == 12 and not version.technical


def test_a_text_of_a_recent_version_again_is_a_revert_that_does_not_alert() -> None:
    previous = PreviousState(latest(B, seq=2, clauses=tuple(extract_clauses(B)), language="en"))
    new = decide(previous, capture(A))
    version = decide_version(previous, capture(A), new, Comparison(((2, "b"), (1, new.text_sha256)), previous.latest))
    assert version.revert_of == 1
    assert version.events and not any(event.alert for event in version.events)


def test_a_re_extraction_and_a_first_text_in_another_language_are_technical_versions() -> None:
    previous = PreviousState(latest(A, clauses=tuple(extract_clauses(A)), language="en"))
    again = capture(B, technical=True)
    version = decide_version(previous, again, decide(previous, again), Comparison(baseline=previous.latest))
    assert version.technical and version.events and not any(event.alert for event in version.events)
    first_in_language = decide_version(previous, capture(B), decide(previous, capture(B)), Comparison())
    assert first_in_language.technical and first_in_language.events == () and first_in_language.seq == 2


def test_a_known_body_whose_text_is_not_the_latest_is_classified_again() -> None:
    previous = PreviousState(latest(B), known=Document(title="Terms", text=A))
    stale = Capture(source(), fetched(A), analysis=Analysis(Document(title="", text="never read")))
    new = decide(previous, stale)
    assert isinstance(new, NewText) and new.document.text == A
    assert new.clauses == tuple(extract_clauses(A))


def test_selectors_that_stop_matching_give_a_drift_notice_and_the_method_for_the_source_row() -> None:
    watched = source(format="html", select=["#gone"])
    result = fetched(PAGE, content_type="text/html")
    page = Capture(watched, result, analysis=analyse_body(result.body, result.content_type, watched))
    decision = decide(PreviousState(extraction=SELECTORS), page)
    assert decision.extraction == AUTOMATIC
    assert [(notice.kind, "#gone" in notice.error) for notice in decision.notices] == [("selector_drift", True)]
    assert decide(PreviousState(extraction=AUTOMATIC), page).notices == ()


def test_a_text_only_the_switch_of_method_changed_is_a_technical_version() -> None:
    """The latest version was read by the selectors; they match nothing now, and automatic location finds in
    the latest version's page what it finds in this one."""
    watched = source(format="html", select=["#gone"])
    result = fetched(PAGE, content_type="text/html")
    page = Capture(watched, result, analysis=analyse_body(result.body, result.content_type, watched))
    found = page.analysis.document.text
    previous = PreviousState(latest(found + "\n\nAnd one sentence more in the selected block.",
                                    clauses=tuple(extract_clauses(found)), extraction=SELECTORS),
                             extraction=SELECTORS)
    new = decide(previous, page)
    assert isinstance(new, NewText) and new.needs_latest_page
    same_page = decide_version(previous, page, new, Comparison(baseline=previous.latest,
                                                               latest_page=(result.body, "text/html")))
    assert same_page.technical
    page_not_kept = decide_version(previous, page, new, Comparison(baseline=previous.latest))
    assert not page_not_kept.technical


def test_a_comparison_is_made_once_for_the_same_clause_tuples_and_again_for_others(monkeypatch) -> None:
    from monitor.pipeline import decide as deciding

    made = []
    real = deciding.compare_clauses
    monkeypatch.setattr(deciding, "compare_clauses", lambda a, b: made.append(1) or real(a, b))
    before, after = tuple(extract_clauses(A)), tuple(extract_clauses(B))
    first = deciding.compared(before, after)
    again = deciding.compared(before, after)
    assert len(made) == 1 and again == first == real(list(before), list(after))
    assert any(change.direction == "tightened" for change in first[1])
    again[0].clear()  # what a caller does with its lists leaves the kept result alone
    assert deciding.compared(before, after) == first
    deciding.compared(tuple(extract_clauses(A)), after)  # equal clauses, another tuple: compared again
    assert len(made) == 2
