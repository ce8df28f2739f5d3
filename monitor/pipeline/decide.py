"""Deciding what a capture is: the previous state of its source and the analysed capture in, as plain values;
what to record out (`NotModified`, `Unchanged`, `Failed`, or `NewText` and then `NewVersion`). No database:
the recorder reads the state before and writes what the decision says after.

A new text is decided in two steps because what it is compared with (the version in its language and that
version's clauses, the recent versions' hashes) is worth reading only once the text is known to be new:
`decide_capture` says `NewText`, the recorder reads its `Comparison`, `decide_version` says `NewVersion`.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace

from monitor.analysis import Analysis, analyse_body, contained, text_checks, text_sha256
from monitor.changes import ClauseChange, compare_clauses
from monitor.clauses import Clause, extract_clauses
from monitor.clauses.language import detect_language
from monitor.directions import ALERTING_DIRECTIONS
from monitor.errors import ExtractionError
from monitor.extract import Document, extract_document
from monitor.extract.document import AUTOMATIC
from monitor.extract.fingerprint import fingerprint_key
from monitor.extract.html import selector_drift_reason
from monitor.fetch import NOT_MODIFIED
from monitor.sources import Source
from monitor.pipeline.capture import Capture, LatestVersion
from monitor.pipeline.checks import check_extracted, _text_to_measure_against


@dataclass(frozen=True)
class PreviousState:
    """What the store holds of a source when a capture of it is recorded."""

    latest: LatestVersion | None = None
    failures_in_a_row: int = 0
    extraction: str | None = None  # how its text was last found (Document.method), as its source row keeps it
    known: Document | None = None  # what this capture's body gave when last accepted; None if it never was
    text_fingerprint: str | None = None  # as its source row keeps it: a page of this fingerprint has the latest text
    body_stored: bool = False  # a snapshot of this very body is kept already


@dataclass(frozen=True)
class Notice:
    """An operators' notice: `kind` is source_failing, source_recovered, selector_drift or selector_recovered;
    `failures_in_a_row` is the streak it reports."""

    kind: str
    failures_in_a_row: int
    failure: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class NotModified:
    """A 304: the source answers again, with nothing new."""

    notices: tuple[Notice, ...] = ()
    failures_in_a_row: int = 0
    extraction: str | None = None


@dataclass(frozen=True)
class Unchanged:
    """The latest version's text again."""

    version_id: int
    seq: int
    notices: tuple[Notice, ...] = ()
    extraction: str | None = None  # how the text was found, for the source row (None: keep what it holds)
    failures_in_a_row: int = 0
    text_fingerprint: str | None = None  # for the source row (None: keep what it holds)


@dataclass(frozen=True)
class Failed:
    """No version: the fetch failed, or its body makes no valid capture. `kind` is the attempt's outcome."""

    kind: str
    error: str | None
    failures_in_a_row: int
    notices: tuple[Notice, ...] = ()
    keep_body: bool = False  # kept as a snapshot: the first body of a failing streak shows what the page became
    compressed_body: bytes | None = None  # the body as a snapshot stores it, when the analysis made it
    extraction: str | None = None


@dataclass(frozen=True)
class NewText:
    """A valid text that is not the latest version's: a version once it is compared (`decide_version`)."""

    document: Document
    text_sha256: str
    clauses: tuple[Clause, ...]
    language: str | None
    technical: bool  # a re-extraction of a stored body: its version never alerts
    notices: tuple[Notice, ...] = ()
    extraction: str | None = None
    compressed_body: bytes | None = None
    # the text was found by another method than the latest version's, which was not automatic location: the
    # comparison needs the latest version's page, to read it as automatic location does
    needs_latest_page: bool = False


@dataclass(frozen=True)
class Comparison:
    """What the store holds that a new text is measured against, read once `decide_capture` said `NewText`."""

    recent: tuple[tuple[int, str], ...] = ()  # (seq, text hash) of the latest versions, newest first
    baseline: LatestVersion | None = None  # compared with, its clauses loaded; None: the first version (in its language)
    latest_page: tuple[bytes, str | None] | None = None  # the latest version's body and content type, if asked for


@dataclass(frozen=True)
class Event:
    """A change to one watched clause, and whether it alerts."""

    change: ClauseChange
    alert: bool


@dataclass(frozen=True)
class NewVersion:
    """A new version: its text, its clauses (keys carried over from the baseline), its change events."""

    text: NewText
    seq: int
    clauses: tuple[Clause, ...]
    events: tuple[Event, ...] = ()
    revert_of: int | None = None  # the seq of a recent version whose text this is again (a flap): no alert
    technical: bool = False  # a re-extraction, the first version in a language, a switch of method: no alert
    previous_version_id: int | None = None  # the baseline's
    compared: bool = False  # its clauses were aligned with the baseline's (worth keeping for the next comparison)
    text_fingerprint: str | None = None  # for the source row (None: keep what it holds)


    @property
    def notices(self) -> tuple[Notice, ...]:
        return self.text.notices

    @property
    def extraction(self) -> str | None:
        return self.text.extraction

    @property
    def failures_in_a_row(self) -> int:
        return 0


Decision = NotModified | Unchanged | Failed | NewText | NewVersion


def decide_capture(previous: PreviousState, capture: Capture, failing_after: int) -> Decision:
    """What this capture is, given what the store holds of its source (`failing_after`: the streak of failures
    that makes a source failing). A body no analysis process analysed is analysed here."""
    result = capture.result
    if result.outcome == NOT_MODIFIED:
        return NotModified(_recovered(previous, failing_after))
    if not result.ok:
        return _failed(previous, result.outcome, result.error, failing_after)
    latest = previous.latest
    known = None if capture.technical else previous.known  # a re-extraction: the stored text is what may be stale
    if known is not None and latest is not None and known.text == latest.text:
        return Unchanged(latest.version_id, latest.seq, _recovered(previous, failing_after))
    analysis = _analysis_of(capture, known, latest, previous.text_fingerprint)
    if latest is not None and analysis.known_text_sha256 == latest.text_sha256:  # by its fingerprint
        return Unchanged(latest.version_id, latest.seq, _recovered(previous, failing_after))
    try:
        with contained():
            document = analysis.document_or_raise()
            check_extracted(document, capture.source, previous_text=_text_to_measure_against(document, latest))
    except ExtractionError as error:
        return _invalid(previous, analysis, error, failing_after)
    extraction, notices = _extraction(capture.source, previous, document)
    notices += _recovered(previous, failing_after)
    sha256 = text_sha256(document.text)
    if latest is not None and sha256 == latest.text_sha256:
        return Unchanged(latest.version_id, latest.seq, notices, extraction,
                         text_fingerprint=_fingerprint_to_keep(document, sha256, capture.source))
    clauses = analysis.clauses
    if clauses is None:
        try:
            with contained():
                clauses = tuple(extract_clauses(document.text, kind=capture.source.kind))
        except ExtractionError as error:
            return _invalid(previous, analysis, error, failing_after)
    return NewText(document, sha256, clauses, analysis.language or detect_language(document.text), capture.technical,
                   notices, extraction, analysis.compressed_body,
                   needs_latest_page=_method_switched(latest, document) and latest.extraction != AUTOMATIC)


def decide_version(previous: PreviousState, capture: Capture, new: NewText, comparison: Comparison) -> NewVersion:
    """The version a new text makes: a revert of a recent version, a technical version, or news whose changes
    to watched clauses alert when they go an alerting direction."""
    latest, baseline = previous.latest, comparison.baseline
    revert_of = next((seq for seq, sha256 in comparison.recent if sha256 == new.text_sha256), None)
    technical = (new.technical or (latest is not None and baseline is None)
                 or _only_the_method_changed(latest, new.document, capture, comparison.latest_page))
    clauses, changes = new.clauses, []
    if baseline is not None:
        aligned, changes = compared(baseline.clauses or (), new.clauses)
        clauses = tuple(aligned)
    alerting = revert_of is None and not technical
    events = tuple(Event(change, alerting and change.direction in ALERTING_DIRECTIONS) for change in changes)
    return NewVersion(new, latest.seq + 1 if latest else 1, clauses, events, revert_of, technical,
                      baseline.version_id if baseline else None, compared=baseline is not None,
                      text_fingerprint=_fingerprint_to_keep(new.document, new.text_sha256, capture.source))


# The last comparisons made, with the clause tuples they compared. compare_clauses depends on its clauses alone,
# and clause tuples are never changed: a recorder compares a new text with the latest version it has cached
# before it takes the write lock (Recorder._compare_ahead), and the transaction, holding the lock, takes that
# result when the baseline it reads is still that very tuple.
_COMPARED: deque[tuple[tuple[Clause, ...], tuple[Clause, ...], tuple[list[Clause], list[ClauseChange]]]] = deque(maxlen=16)
_compared_guard = threading.Lock()  # a daemon's cycles record in several threads


def compared(previous: tuple[Clause, ...], current: tuple[Clause, ...]) -> tuple[list[Clause], list[ClauseChange]]:
    """compare_clauses of these clauses, made once for the same two tuples."""
    with _compared_guard:
        result = next((kept for earlier, later, kept in _COMPARED if earlier is previous and later is current), None)
    if result is None:
        result = compare_clauses(list(previous), list(current))
        with _compared_guard:
            _COMPARED.append((previous, current, result))
    return list(result[0]), list(result[1])


def _fingerprint_to_keep(document: Document, text_sha256: str, source: Source) -> str | None:
    return fingerprint_key(document.fingerprint, text_sha256, text_checks(source)) if document.fingerprint else None


def _analysis_of(capture: Capture, known: Document | None, latest: LatestVersion | None,
                 text_fingerprint: str | None) -> Analysis:
    """The capture's analysis: the known document, the analysis process's, or one made here. One whose
    `known_text_sha256` is set names the latest version's text, by the body's fingerprint."""
    if known is not None:  # the text this body gave before: neither extracted nor classified again
        return Analysis(known)
    analysis, latest_sha256 = capture.analysis, latest.text_sha256 if latest else None
    if analysis is not None and (analysis.known_text_sha256 is None or
                                 (analysis.known_text_sha256 == latest_sha256 and not capture.technical)):
        return analysis
    # none yet, or one that took the text for a latest version that has moved on since: analyse here
    result = capture.result
    return analyse_body(result.body, result.content_type, capture.source, latest_sha256,
                        None if capture.technical else text_fingerprint)


def _failed(previous: PreviousState, kind: str, error: str | None, failing_after: int) -> Failed:
    streak = previous.failures_in_a_row + 1
    notices = (Notice("source_failing", streak, kind, error),) if streak == failing_after else ()
    return Failed(kind, error, streak, notices)


def _invalid(previous: PreviousState, analysis: Analysis, error: ExtractionError, failing_after: int) -> Failed:
    """A body fetched that makes no version (invalid, too short, ...). The first of a failing streak is kept, so
    what the page showed when it began to fail can be seen; the rest keep their hash only."""
    return replace(_failed(previous, error.kind, error.reason, failing_after),
                   keep_body=not previous.body_stored and previous.failures_in_a_row == 0,
                   compressed_body=analysis.compressed_body)


def _recovered(previous: PreviousState, failing_after: int) -> tuple[Notice, ...]:
    if previous.failures_in_a_row >= failing_after:
        return (Notice("source_recovered", previous.failures_in_a_row),)
    return ()


def _extraction(source: Source, previous: PreviousState, document: Document) -> tuple[str | None, tuple[Notice, ...]]:
    """How the text was found, for the source row, and the notice a change of it gives: `selector_drift` when the
    source's selectors stop matching (its text then found automatically), `selector_recovered` when they match
    again."""
    method, before = document.method, previous.extraction
    if not method:  # not HTML, or a body seen before whose text was reused
        return None, ()
    if not source.select or before == method:
        return method, ()
    streak = previous.failures_in_a_row
    if method == AUTOMATIC:
        reason = f"{selector_drift_reason(source.select)}; the terms were found automatically"
        return method, (Notice("selector_drift", streak, error=reason),)
    return method, (Notice("selector_recovered", streak),) if before == AUTOMATIC else ()


def _method_switched(latest: LatestVersion | None, document: Document) -> bool:
    return (latest is not None and latest.extraction is not None and bool(document.method)
            and latest.extraction != document.method)


def _only_the_method_changed(latest: LatestVersion | None, document: Document, capture: Capture,
                             latest_page: tuple[bytes, str | None] | None) -> bool:
    """Whether a text found by another method than the latest version's (selectors, automatic location) is
    what that method finds in the latest version's page too: then the switch, not the terms, changed it.

    Both pages are compared as automatic location reads them, the one method that reads any page."""
    if not _method_switched(latest, document):
        return False
    if latest.extraction == AUTOMATIC:
        before = latest.text
    elif latest_page is None:  # the latest version's page is not kept
        return False
    else:
        before = _automatic_text(*latest_page, capture.source)
    result = capture.result
    now = (document.text if document.method == AUTOMATIC
           else _automatic_text(result.body, result.content_type, capture.source))
    return now is not None and now == before


def _automatic_text(body: bytes, content_type: str | None, source: Source) -> str | None:
    try:
        with contained():
            return extract_document(body, format=source.format, content_type=content_type,
                                    remove=source.remove).text
    except ExtractionError:
        return None
