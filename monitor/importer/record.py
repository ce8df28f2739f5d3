"""Recording imported history: `HistoricVersion`s in, each document's versions not stored yet recorded in time order
(its whole history recorded again when older versions come in). With worker processes, each worker analyses and
records whole documents, several at a time; a document whose older history must be recorded again has only its
bodies analysed there, and is recorded here."""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select

from monitor.analysis import (MIN_SOURCES_TO_START_WORKERS, Analysis, AnalysisPool, analyse_body,
                               analysis_processes, shared_pool)
from monitor.fetch import OK, FetchResult
from monitor.importer.naming import IdOwners, unnamed_source
from monitor.importer.versions import HistoricVersion, find_versions
from monitor.pipeline import AnalysisStoreSpec, Capture, CaptureOutcome, Recorder, log_outcome
from monitor.pipeline.analysis_batches import analysis_recorder
from monitor.sources import Source
from monitor.store import FetchAttempt, Snapshot, session_scope

__all__ = ["DOCUMENTS_AHEAD", "ImportSummary", "import_history"]

_CONTENT_TYPES = {".md": "text/markdown", ".html": "text/html", ".htm": "text/html", ".txt": "text/plain",
                  ".pdf": "application/pdf"}


@dataclass
class ImportSummary:
    """What one import did: versions found, those already stored (skipped), the outcomes of those recorded, and
    the sources whose stored history was recorded again in time order because older versions came in."""

    found: int = 0
    documents: int = 0
    already_stored: int = 0
    outcomes: list[CaptureOutcome] = field(default_factory=list)
    backfilled: list[str] = field(default_factory=list)


def import_history(recorder: Recorder, path: Path,
                   on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None = None,
                   versions: list[HistoricVersion] | None = None,
                   registry: Sequence[Source] = ()) -> ImportSummary:
    """Record the versions found under `path` that are not stored yet, each document's in time order.

    A document a `registry` entry names (its `history:` field) is recorded under that entry, with its id,
    provider, title and URL. Versions older than what a source holds make its whole history be recorded again
    in time order (`Recorder.replace_history`). Nobody is alerted: the recorder given has no alert channels.
    """
    versions = versions if versions is not None else find_versions(path)
    by_document: dict[tuple[str, str], list[HistoricVersion]] = {}
    for version in versions:
        by_document.setdefault((version.service, version.terms_type), []).append(version)
    summary = ImportSummary(found=len(versions), documents=len(by_document))
    named = {(source.history.service, source.history.terms_type): source for source in registry if source.history}
    owners = IdOwners(recorder, {source.id for source in registry})
    pool = _analysis_pool(len(versions))
    database_url = recorder.shared_database_url() if pool is not None else None
    workers = _Workers(pool, AnalysisStoreSpec.of(recorder, database_url) if database_url else None) if pool else None

    def prepared() -> Iterator[_Document]:
        for key, document_versions in by_document.items():
            source = named.get(key) or unnamed_source(key, owners)
            recorder.sync_sources([source])
            yield _prepare_document(recorder, source, document_versions, summary, on_progress, workers)

    # the workers analyse (and record) the next documents while this process waits for this one
    for document in _ahead(prepared(), DOCUMENTS_AHEAD):
        _import_document(recorder, document, summary, on_progress)
    return summary


# Documents read and handed to the worker processes ahead of the one this process waits for: enough that a
# long history in one worker leaves the others documents to do.
DOCUMENTS_AHEAD = 8


@dataclass(frozen=True)
class _Workers:
    pool: AnalysisPool
    spec: AnalysisStoreSpec | None  # None: a database only this process can open, where workers only analyse


@dataclass
class _Document:
    """One document's versions not stored yet, as captures, each with its analysis on the way, or all of them
    being recorded by a worker (`recorded`)."""

    source: Source
    stored: _StoredCaptures
    captures: list[Capture]
    versions: list[HistoricVersion]
    analyses: list[Future | None]
    recorded: Future | None = None

    def analysed_captures(self) -> list[Capture]:
        return [replace(capture, analysis=_result_or_none(analysis))
                for capture, analysis in zip(self.captures, self.analyses)]


def _analysis_pool(count: int) -> AnalysisPool | None:
    return shared_pool(analysis_processes(), start=count >= MIN_SOURCES_TO_START_WORKERS)


def _result_or_none(analysis: Future | None) -> Analysis | None:
    """A worker's analysis, or None (the recorder then analyses the body itself) when it failed."""
    if analysis is None:
        return None
    try:
        return analysis.result()
    except Exception:  # noqa: BLE001 - a dead or broken worker: the recorder does the work instead
        return None


def _ahead(documents: Iterator[_Document], count: int) -> Iterator[_Document]:
    waiting: deque[_Document] = deque()
    for document in documents:
        waiting.append(document)
        if len(waiting) > count:
            yield waiting.popleft()
    yield from waiting


def _prepare_document(recorder: Recorder, source: Source, versions: list[HistoricVersion], summary: ImportSummary,
                      on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None,
                      workers: _Workers | None) -> _Document:
    """The document's versions not stored yet, as captures, sent to a worker to be recorded when they come
    after what is stored, else each distinct body sent to be analysed."""
    stored = _stored_captures(recorder, source.id)
    captures, new, digests = [], [], []
    for version in versions:
        body = version.read()
        digest = hashlib.sha256(body).hexdigest()
        if (version.recorded_at, digest) in stored.keys:
            summary.already_stored += 1
            if on_progress:
                on_progress(version, None)
            continue
        captures.append(_capture(source, version, body))
        new.append(version)
        digests.append(digest)
    if workers is None or not captures:
        return _Document(source, stored, captures, new, [None] * len(captures))
    if workers.spec is not None and not _goes_before(captures, stored):
        return _Document(source, stored, captures, new, [None] * len(captures),
                         recorded=workers.pool.submit(_record_in_worker, workers.spec, captures))
    submitted: dict[str, Future | None] = {}
    for capture, digest in zip(captures, digests):
        if digest not in submitted:
            submitted[digest] = workers.pool.submit(analyse_body, capture.result.body, capture.result.content_type,
                                                    capture.source)
    return _Document(source, stored, captures, new, [submitted[digest] for digest in digests])


def _goes_before(captures: list[Capture], stored: _StoredCaptures) -> bool:
    """Whether the new captures start before the newest stored one: the history is then recorded again."""
    return stored.newest is not None and captures[0].result.started_at < stored.newest


def _record_in_worker(spec: AnalysisStoreSpec, captures: list[Capture]) -> list[CaptureOutcome]:
    """In a worker process: analyse one document's new captures and record them in time order, each in its own
    transaction as `_import_document` would (logged by the process that sent them)."""
    recorder = analysis_recorder(spec)
    analyses: dict[bytes, Analysis] = {}
    outcomes = []
    for capture in captures:
        body = capture.result.body
        if body not in analyses:  # a document's history repeats its bodies
            analyses[body] = analyse_body(body, capture.result.content_type, capture.source)
        outcomes += recorder.record_many([replace(capture, analysis=analyses[body])], log=False)
    return outcomes


def _import_document(recorder: Recorder, document: _Document, summary: ImportSummary,
                     on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None) -> None:
    outcomes = _recorded_by_worker(document)
    if outcomes is None:
        document = _not_stored_yet(recorder, document, summary, on_progress)
        outcomes = _record_here(recorder, document.source, document.stored, document.analysed_captures(), summary)
    else:
        for capture, outcome in zip(document.captures, outcomes, strict=True):
            log_outcome(capture.source, capture.result, outcome)
    summary.outcomes += outcomes
    for version, outcome in zip(document.versions, outcomes, strict=True):
        if on_progress:
            on_progress(version, outcome)


def _record_here(recorder: Recorder, source: Source, stored: _StoredCaptures, captures: list[Capture],
                 summary: ImportSummary) -> list[CaptureOutcome]:
    if not captures:
        return []
    if not _goes_before(captures, stored):
        return [recorder.record_many([capture])[0] for capture in captures]
    everything = sorted([*stored.captures(recorder, source), *captures], key=lambda capture: capture.result.started_at)
    new_ones = {id(capture) for capture in captures}
    summary.backfilled.append(source.id)
    return [outcome for outcome, capture in zip(recorder.replace_history(source.id, everything), everything)
            if id(capture) in new_ones]


def _recorded_by_worker(document: _Document) -> list[CaptureOutcome] | None:
    """What a worker recorded of the document; None when no worker had it, or the worker died or failed."""
    if document.recorded is None:
        return None
    try:
        return document.recorded.result()
    except Exception:  # noqa: BLE001 - this process records what the worker did not, and meets any error itself
        return None


def _not_stored_yet(recorder: Recorder, document: _Document, summary: ImportSummary,
                    on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None) -> _Document:
    """The document without the captures a failed worker stored before it stopped (counted as already stored)."""
    if document.recorded is None:
        return document
    keys = _stored_captures(recorder, document.source.id).keys - document.stored.keys
    kept = [index for index, capture in enumerate(document.captures)
            if (capture.result.started_at, hashlib.sha256(capture.result.body).hexdigest()) not in keys]
    summary.already_stored += len(document.captures) - len(kept)
    for index in sorted(set(range(len(document.captures))) - set(kept)):
        if on_progress:
            on_progress(document.versions[index], None)
    return replace(document, captures=[document.captures[i] for i in kept],
                   versions=[document.versions[i] for i in kept], analyses=[None] * len(kept))


def _capture(source: Source, version: HistoricVersion, body: bytes) -> Capture:
    result = FetchResult(url=source.url, outcome=OK, started_at=version.recorded_at, elapsed_ms=0, body=body,
                         content_type=_CONTENT_TYPES.get(version.suffix.lower()))
    return Capture(_as_archived(source, result.content_type), result, origin=version.origin)


def _as_archived(source: Source, content_type: str | None) -> Source:
    """The source as an archived copy is read: a raw page (HTML) as the registry says, but the archive's own
    text (Markdown, plain text, PDF) without the selectors, format and expected phrase written for the page."""
    if content_type == "text/html":
        return source
    return source.model_copy(update={"format": None, "select": (), "remove": (), "expect": None})


@dataclass
class _StoredCaptures:
    """A source's stored attempts, oldest first: their (time, body SHA-256) keys and the newest time."""

    source_id: str
    attempts: list[tuple[FetchAttempt, str | None]]  # each with its body's snapshot origin
    keys: set[tuple[dt.datetime, str | None]]
    newest: dt.datetime | None

    def captures(self, recorder: Recorder, source: Source) -> list[Capture]:
        """The stored attempts as captures to record again: a body imported before is read as archived."""
        with session_scope(recorder.engine) as session:
            bodies = {row.id: (zlib.decompress(row.body), row.content_type) for row in session.execute(
                select(Snapshot.id, Snapshot.body, Snapshot.content_type).where(Snapshot.source_id == self.source_id))}
        captures: list[Capture] = []
        last_body: tuple[bytes, str | None, str | None] | None = None  # (body, content type, origin)
        for attempt, origin in self.attempts:
            if attempt.snapshot_id is not None:
                last_body = (*bodies[attempt.snapshot_id], origin)
            elif attempt.outcome != OK or last_body is None:
                captures.append(Capture(source, FetchResult(
                    url=source.url, outcome=attempt.outcome, started_at=attempt.started_at,
                    elapsed_ms=attempt.elapsed_ms, http_status=attempt.http_status, error=attempt.error)))
                continue
            # failed checks are made again (whether a body is too short depends on what came before it); a
            # success stored without its body was unchanged: it is read as the body stored before it
            body, content_type, body_origin = last_body
            result = FetchResult(url=source.url, outcome=OK, started_at=attempt.started_at,
                                 elapsed_ms=attempt.elapsed_ms, http_status=attempt.http_status, body=body,
                                 content_type=content_type)
            reading = _as_archived(source, content_type) if body_origin else source
            captures.append(Capture(reading, result, origin=body_origin))
        return captures


def _stored_captures(recorder: Recorder, source_id: str) -> _StoredCaptures:
    with session_scope(recorder.engine) as session:
        rows = session.execute(
            select(FetchAttempt, Snapshot.sha256, Snapshot.origin)
            .outerjoin(Snapshot, Snapshot.id == FetchAttempt.snapshot_id)
            .where(FetchAttempt.source_id == source_id).order_by(FetchAttempt.started_at, FetchAttempt.id)
        ).all()
        session.expunge_all()
    keys = {(attempt.started_at, sha256) for attempt, sha256, _ in rows}
    return _StoredCaptures(source_id, [(attempt, origin) for attempt, _, origin in rows], keys,
                           max((attempt.started_at for attempt, *_ in rows), default=None))
