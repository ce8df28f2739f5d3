"""Checks of one capture's text that read no database: is it acceptable (`check_extracted`), against which
text is it measured; `check_capture` runs them, storing nothing."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.analysis import contained
from monitor.clauses.align import content_of
from monitor.clauses import Clause, extract_clauses
from monitor.clauses.language import detect_language
from monitor.errors import ExtractionError
from monitor.extract import Document, check_document, extract_document
from monitor.extract.document import AUTOMATIC, suggest_select
from monitor.extract.html import selector_drift_reason
from monitor.extract.validity import compared_reason
from monitor.fetch import FetchResult
from monitor.sources import Source
from monitor.pipeline.capture import LatestVersion


def _text_to_measure_against(document: Document, latest: LatestVersion | None) -> str | None:
    """The latest version's text, for the checks that a capture is not far shorter than it nor another page
    (validity.compared_reason); None when the capture is in another language (a Chinese text is about a third
    as long as the same terms in English, and shares few words), or states a watched rule the latest version
    does not (a short new text, not a truncated page: an MIT licence replaced by one sentence that puts the
    model under a community licence and its use policy; a rewrite in new words that adds a restriction)."""
    if latest is None or compared_reason(document.text, latest.text) is None:
        return latest.text if latest is not None else None
    if latest.language is not None:
        language = detect_language(document.text)
        if language is not None and language != latest.language:
            return None
    if _states_a_new_rule(document.text, latest.text):
        return None
    return latest.text


def _states_a_new_rule(text: str, previous_text: str) -> bool:
    previous = content_of(previous_text)
    return any(clause.watched and content_of(clause.text) not in previous for clause in extract_clauses(text))


def check_extracted(document: Document, source: Source, previous_text: str | None = None) -> None:
    """`check_document` with the source's expected phrase; when the source's selectors matched nothing and
    the automatically found text fails, the reason says both."""
    try:
        check_document(document, expect=source.expect, previous_text=previous_text)
        check_language(document, source)
    except ExtractionError as error:
        if source.select and document.method == AUTOMATIC:
            raise ExtractionError(error.kind, f"{selector_drift_reason(source.select)}, and the text found "
                                              f"automatically fails: {error.reason}") from None
        raise


def check_language(document: Document, source: Source) -> None:
    """Raise `invalid` when the source pins a language (`language: en`) and the text is in another one; a
    text too short to tell passes."""
    found = detect_language(document.text) if source.language else None
    if found is not None and found != source.language:
        raise ExtractionError("invalid", f"text is in language {found!r}, not the pinned {source.language!r} "
                                         f"(language: {source.language})")


@dataclass(frozen=True)
class SourceCheck:
    """What `check-source` shows: what would be extracted from one capture, and every problem."""

    fetch: FetchResult
    document: Document | None
    problems: list[str]
    clauses: list[Clause]
    suggestion: str | None = None  # a selector of the block automatic location finds (HTML, when asked)


def check_capture(source: Source, result: FetchResult, *, suggest: bool = False) -> SourceCheck:
    """Run extraction and classification on one capture without storing anything; `suggest`: also find a
    selector for the terms block."""
    if not result.ok:
        return SourceCheck(result, None, [f"{result.outcome}: {result.error or result.http_status}"], [])
    try:
        with contained():
            document = extract_document(result.body, format=source.format, content_type=result.content_type,
                                        select=source.select, remove=source.remove)
            suggestion = suggest_select(result.body, result.content_type) if suggest and document.method else None
    except ExtractionError as error:
        return SourceCheck(result, None, [f"{error.kind}: {error.reason}"], [])
    problems = []
    if source.select and document.method == AUTOMATIC:
        problems.append(f"invalid: {selector_drift_reason(source.select)} "
                        "(the text below was found automatically)")
    try:
        check_document(document, expect=source.expect)
        check_language(document, source)
    except ExtractionError as error:
        problems.append(f"{error.kind}: {error.reason}")
    clauses: list[Clause] = []
    try:
        with contained():
            clauses = extract_clauses(document.text, kind=source.kind)
    except ExtractionError as error:
        problems.append(f"{error.kind}: {error.reason}")
    return SourceCheck(result, document, problems, clauses, suggestion)
