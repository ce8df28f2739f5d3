"""One source, one capture: a FetchResult in; attempt, snapshot, version, clauses and change events stored; alerts out.

The CLI (`run`, `ingest`, `import`), the scheduler and the web app call this module; none holds pipeline logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import queue
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from monitor.analysis import (ANALYSIS_ERROR, Analysis, AnalysisPool, compress_body, contained, discard_pool,
                              failure_reason)
from monitor.changes import ClauseChange, compare_clauses
from monitor.clauses.align import content_of
from monitor.clauses import Clause, extract_clauses
from monitor.clauses.language import detect_language
from monitor.directions import ALERTING_DIRECTIONS
from monitor.errors import ExtractionError
from monitor.extract import Document, check_document, extract_document
from monitor.extract.document import AUTOMATIC, suggest_select
from monitor.extract.html import selector_drift_reason
from monitor.extract.validity import compared_reason
from monitor.fetch import NOT_MODIFIED, FetchResult
from monitor.logs import log_capture
from monitor.sources import Source
from monitor.store import ChangeEvent, ClauseRow, FetchAttempt, Snapshot, SourceRow, Version, session_scope
from monitor.store.bulk import clause_rows, clauses_from_rows, insert_clause_rows
from monitor.store.db import begin_writing
from monitor.store.payloads import FAILING_AFTER, event_payload, source_notice

# How many recent versions a new text is compared with to call it a revert (flap), not news.
REVERT_WINDOW = 5
# Storing captures is tried this many times when the database refuses it for a row another process wrote
# meanwhile (a source both created); each try reads the source's latest version again.
STORE_TRIES = 3
# Captures that wait for the recorder are stored together, one transaction (and one commit) for up to this many.
CAPTURES_PER_TRANSACTION = 50
# Bodies fetched and not yet recorded, at most (then the fetchers wait): see Backlog.
MAX_BACKLOG_BYTES = 32 * 1024 * 1024
# New bodies go to a worker process this many at a time (stored in one transaction), or fewer when the first
# has waited this long.
ANALYSIS_BATCH = 8
BATCH_WAIT_SECONDS = 0.02

# Outcomes of recording one capture.
NEW_VERSION = "new_version"
UNCHANGED = "unchanged"
FAILED = "failed"


@dataclass(frozen=True)
class CaptureOutcome:
    """What recording one fetch result did."""

    source_id: str
    outcome: str  # new_version | unchanged | not_modified | failed
    attempt_outcome: str  # as stored on fetch_attempt
    version_seq: int | None = None
    revert_of_seq: int | None = None
    error: str | None = None
    attempt_id: int | None = None
    events: list[dict] = field(default_factory=list)  # change events that should alert
    notices: list[dict] = field(default_factory=list)  # "source failing" / "source recovered", for operators
    record_ms: int | None = None  # time taken to store it (a share of its transaction's)


@dataclass(frozen=True)
class Capture:
    """One fetch result of a source to record; `analysis` is its body's analysis when it is already made
    (as a worker process makes it before storing the capture)."""

    source: Source
    result: FetchResult
    technical: bool = False
    analysis: Analysis | None = None
    origin: str | None = None  # where an imported body came from (stored on its snapshot), for citing it


@dataclass
class _Latest:
    """The newest version of a source and its clauses, kept in memory between captures."""

    version_id: int
    seq: int
    text: str
    text_sha256: str
    clauses: list[Clause] | None  # None until a comparison needs them
    language: str | None = None
    extraction: str | None = None  # Document.method of its text, None if unknown


class Recorder:
    """Records captures of sources into the database; keeps each source's latest version in memory.

    One Recorder per process; `record` is safe to call from several threads (one lock per source), and from
    several processes at once (each transaction holds its sources in the database before it reads them).
    """

    def __init__(self, engine: Engine, *, revert_window: int = REVERT_WINDOW,
                 failing_after: int = FAILING_AFTER, alerts: Any = None) -> None:
        self.engine = engine
        # clausewatch.yaml (an AlertsConfig): with it, notifications go through the outbox
        self.alerts = alerts
        self.revert_window = revert_window
        self.failing_after = failing_after
        self._latest: dict[str, _Latest | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, source_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(source_id, threading.Lock())

    def sync_sources(self, sources: Sequence[Source]) -> None:
        """Insert or update the rows of these sources (sources.yaml is the truth for their settings)."""
        with session_scope(self.engine) as session:
            upsert_sources(session, sources)

    def known_bodies(self, source_ids: Sequence[str]) -> dict[str, set[str]]:
        """SHA-256 of the bodies whose text each source already knows: every stored snapshot's, and the body of
        its newest accepted capture (an unchanged one keeps only its hash). A body among them is never
        analysed again."""
        known: dict[str, set[str]] = {}
        with session_scope(self.engine) as session:
            rows = session.execute(select(Snapshot.source_id, Snapshot.sha256)
                                   .where(Snapshot.source_id.in_(source_ids))).all()
            newest = session.execute(select(SourceRow.id, FetchAttempt.body_sha256)
                                     .join(FetchAttempt, FetchAttempt.id == _newest_accepted_attempt(SourceRow.id))
                                     .where(SourceRow.id.in_(source_ids), FetchAttempt.body_sha256.is_not(None)))
            for source_id, sha256 in [*rows, *newest]:
                known.setdefault(source_id, set()).add(sha256)
        return known

    def conditional_headers(self, source_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """ETag and Last-Modified last seen for each source, for conditional GETs."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(SourceRow.id, SourceRow.etag, SourceRow.last_modified).where(SourceRow.id.in_(source_ids))
            )
            return {row.id: (row.etag, row.last_modified) for row in rows}

    def record(self, source: Source, result: FetchResult, *, technical: bool = False,
               analysis: Analysis | None = None) -> CaptureOutcome:
        """Store one fetch result of `source` and everything that follows from it, in one transaction.

        `analysis` is `analyse_body` of this result's body, when a worker process has already made it.
        """
        return self.record_many([Capture(source, result, technical, analysis)])[0]

    def record_or_fail(self, capture: Capture) -> CaptureOutcome:
        """`record` one capture; if storing it fails, store it as a failed capture instead (`analysis_error`,
        with the reason), so that a body no check foresaw (one the database refuses) fails alone.

        Raises when the database itself is failing (unreachable, deadlocked: no fault of this body), or the
        failure cannot be stored either.
        """
        try:
            return self.record_many([capture])[0]
        except Exception as error:  # noqa: BLE001 - any other error storing this body is this capture's failure
            if not capture.result.ok or isinstance(error, OperationalError):
                raise
            reason = failure_reason("could not be stored", error)
            logging.getLogger(__name__).warning("%s: %s", capture.source.id, reason)
        failed = replace(capture.result, outcome=ANALYSIS_ERROR, error=reason)
        return self.record_many([Capture(capture.source, failed)])[0]

    def record_many(self, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        """Store several captures in one transaction, in order: the rows and outcomes `record` would give
        one by one, for one commit and a few queries on their sources however many they are.

        All or nothing: if any capture fails to store, none is stored and the error is raised.
        """
        outcomes = self._store(captures)
        # logged after the commit, so a log line always stands for a recorded capture
        for capture, outcome in zip(captures, outcomes, strict=True):
            log_outcome(capture.source, capture.result, outcome)
        return outcomes

    def _store(self, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        started = time.monotonic()
        source_ids = sorted({capture.source.id for capture in captures})
        with contextlib.ExitStack() as held:
            for source_id in source_ids:  # always in the same order, so two callers never wait on each other
                held.enter_context(self._lock(source_id))
            for tries_left in reversed(range(STORE_TRIES)):
                try:
                    outcomes = self._record_in_one_transaction(captures)
                    break
                except BaseException as error:
                    for source_id in source_ids:  # the versions this transaction cached were rolled back
                        self._latest.pop(source_id, None)
                    if not isinstance(error, IntegrityError) or not tries_left:
                        raise
        record_ms = int((time.monotonic() - started) * 1000 / len(captures))
        return [replace(outcome, record_ms=record_ms) for outcome in outcomes]

    def shared_database_url(self) -> str | None:
        """The database's URL as another process can open it; None for a database only this process sees."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
                return None
            url = url.set(database=os.path.abspath(url.database))
        return url.render_as_string(hide_password=False)

    def _record_in_one_transaction(self, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        with session_scope(self.engine) as session:
            # Another process (a daemon beside `run --once`, a worker) may record these sources now: hold them
            # (PostgreSQL: their rows; SQLite: the database) before reading their latest versions, so that a
            # new version's seq and baseline are the true latest until this commits.
            begin_writing(session)
            source_rows = {row.id: row for row in session.scalars(
                select(SourceRow).where(SourceRow.id.in_({capture.source.id for capture in captures}))
                .order_by(SourceRow.id).with_for_update())}
            self._refresh_latest(session, {capture.source.id for capture in captures if capture.result.ok})
            outcomes = self._record_each(session, captures, source_rows)
            for outcome in outcomes:
                self._queue_notifications(session, outcome)
        return outcomes

    def _record_each(self, session: Session, captures: Sequence[Capture],
                     source_rows: dict[str, SourceRow]) -> list[CaptureOutcome]:
        recorded = []
        for capture in captures:
            source, result = capture.source, capture.result
            if source.id not in source_rows:
                source_rows[source.id] = upsert_source(session, source)
            attempt = FetchAttempt(
                source_id=source.id, started_at=result.started_at, outcome=result.outcome,
                http_status=result.http_status, bytes=len(result.body), elapsed_ms=result.elapsed_ms,
                error=result.error, body_sha256=_sha256(result.body) if result.body else None,
            )
            outcome = self._record(session, source, source_rows[source.id], attempt, result, capture.technical,
                                   capture.analysis, capture.origin)
            session.add(attempt)  # added complete, so it is one INSERT and no UPDATE
            recorded.append((attempt, outcome))
        session.flush()  # the attempts not yet flushed go in together
        return [replace(outcome, attempt_id=attempt.id) for attempt, outcome in recorded]

    def replace_history(self, source_id: str, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        """Record `captures` (every capture of one source, oldest first) as that source's whole history, in
        place of its stored attempts, versions, clauses and change events, in one transaction; its snapshots
        are kept. For a backfill of older history: seqs and events come out as if recorded in time order.
        Nobody is alerted (no outbox rows)."""
        with self._lock(source_id):
            try:
                with session_scope(self.engine) as session:
                    begin_writing(session)
                    source_row = session.get(SourceRow, source_id, with_for_update=True)
                    _forget_history(session, source_row)
                    self._latest[source_id] = None
                    return self._record_each(session, captures, {source_id: source_row})
            finally:  # what was cached while replaying is only right if it committed: read it again next time
                self._latest.pop(source_id, None)

    def _queue_notifications(self, session: Session, outcome: CaptureOutcome) -> None:
        """Outbox rows for the events and notices of this capture, committed with them (sent later)."""
        if self.alerts is not None:
            from monitor.alerts.outbox import queue_notifications

            queue_notifications(session, self.alerts, outcome)

    def _record(self, session: Session, source: Source, source_row: SourceRow, attempt: FetchAttempt,
                result: FetchResult, technical: bool, analysis: Analysis | None,
                origin: str | None = None) -> CaptureOutcome:
        if result.outcome == NOT_MODIFIED:
            return CaptureOutcome(source.id, NOT_MODIFIED, result.outcome, notices=self._succeeded(source_row))
        if not result.ok:
            return self._failed(source_row, result.outcome, result.error)

        latest = self._latest[source.id]
        snapshot, known = self._seen_body(session, source.id, result)
        if snapshot is not None:
            attempt.snapshot_id = snapshot.id
        if technical:  # re-extraction: the stored text of this body is what may be out of date
            known = None
        if known is not None and latest is not None and known.text == latest.text:
            return self._unchanged(source_row, attempt, result, latest)

        if known is not None:
            analysis = Analysis(known)
        try:
            with contained():
                document = (analysis.document_or_raise() if analysis is not None
                            else extract_document(result.body, format=source.format,
                                                  content_type=result.content_type, select=source.select,
                                                  remove=source.remove))
                check_extracted(document, source, previous_text=_text_to_measure_against(document, latest))
        except ExtractionError as error:
            return self._invalid(session, source_row, attempt, result, analysis, error, origin)

        notices = _extraction_notices(source, source_row, document)
        text_sha256 = _sha256(document.text.encode("utf-8"))
        if latest is not None and text_sha256 == latest.text_sha256:
            return _with_notices(self._unchanged(source_row, attempt, result, latest), notices)
        rows = analysis.clause_rows if analysis is not None else None
        if rows is None:
            try:
                with contained():
                    rows = clause_rows(extract_clauses(document.text, kind=source.kind))
            except ExtractionError as error:
                return self._invalid(session, source_row, attempt, result, analysis, error, origin)
        snapshot = snapshot or self._keep_snapshot(session, source.id, result, analysis, origin)
        attempt.snapshot_id = snapshot.id  # the evidence of the version
        language = analysis.language if analysis is not None else None
        return _with_notices(self._new_version(session, source, source_row, attempt, result, snapshot, document,
                                               text_sha256, latest, technical, rows, language), notices)

    def _invalid(self, session: Session, source_row: SourceRow, attempt: FetchAttempt, result: FetchResult,
                 analysis: Analysis | None, error: ExtractionError, origin: str | None = None) -> CaptureOutcome:
        """A body fetched that makes no version (invalid, too short, ...). The first of a failing streak is
        kept, so what the page showed when it began to fail can be seen; the rest keep their hash only."""
        attempt.outcome, attempt.error = error.kind, error.reason
        if attempt.snapshot_id is None and source_row.failures_in_a_row == 0:
            attempt.snapshot_id = self._keep_snapshot(session, source_row.id, result, analysis, origin).id
        return self._failed(source_row, error.kind, error.reason)

    def _failed(self, source_row: SourceRow, kind: str, error: str | None) -> CaptureOutcome:
        source_row.failures_in_a_row += 1
        notices = []
        if source_row.failures_in_a_row == self.failing_after:
            notices.append(source_notice("source_failing", source_row, kind, error))
        return CaptureOutcome(source_row.id, FAILED, kind, error=error, notices=notices)

    def _succeeded(self, source_row: SourceRow) -> list[dict]:
        recovered = source_row.failures_in_a_row >= self.failing_after
        source_row.failures_in_a_row = 0
        return [source_notice("source_recovered", source_row)] if recovered else []

    def _unchanged(self, source_row: SourceRow, attempt: FetchAttempt, result: FetchResult,
                   latest: _Latest) -> CaptureOutcome:
        attempt.version_id = latest.version_id
        _remember_validators(source_row, result)
        return CaptureOutcome(source_row.id, UNCHANGED, attempt.outcome, version_seq=latest.seq,
                              notices=self._succeeded(source_row))

    def _new_version(self, session: Session, source: Source, source_row: SourceRow, attempt: FetchAttempt,
                     result: FetchResult, snapshot: Snapshot, document: Document, text_sha256: str,
                     latest: _Latest | None, technical: bool, rows: list[tuple] | None,
                     language: str | None = None) -> CaptureOutcome:
        revert_of = self._revert_of(session, source.id, text_sha256) if latest else None
        language = language or detect_language(document.text)  # an analysis process may have found it
        # compared with the last version in its own language; the first in a new language is only recorded
        baseline = self._baseline(session, source.id, latest, language) if latest else None
        technical = (technical or (latest is not None and baseline is None)
                     or _only_the_method_changed(session, source, latest, document, result))
        clauses: list[Clause] | None = None  # a first version's are loaded when a comparison needs them
        changes: list[ClauseChange] = []
        if baseline is not None:
            new = clauses_from_rows(rows) if rows is not None else extract_clauses(document.text, kind=source.kind)
            clauses, changes = compare_clauses(self._clauses_of(session, baseline), new)
            rows = clause_rows(clauses)
        elif rows is None:
            rows = clause_rows(extract_clauses(document.text, kind=source.kind))
        version = Version(
            source_id=source.id, seq=(latest.seq + 1) if latest else 1, observed_at=result.started_at,
            title=document.title, text=document.text, text_sha256=text_sha256, snapshot_id=snapshot.id,
            revert_of_seq=revert_of, technical=technical, language=language, extraction=document.method or None,
        )
        session.add(version)
        session.flush()
        insert_clause_rows(session, version.id, rows)
        attempt.version_id = version.id
        alerting = revert_of is None and not technical
        events = [self._event_row(source, version, baseline, change, alerting) for change in changes]
        session.add_all(events)
        session.flush()
        _remember_validators(source_row, result)
        self._latest[source.id] = _Latest(version.id, version.seq, document.text, text_sha256, clauses, language,
                                          version.extraction)
        return CaptureOutcome(
            source.id, NEW_VERSION, attempt.outcome, version_seq=version.seq, revert_of_seq=revert_of,
            events=[event_payload(event, source_row, version) for event in events if event.alert],
            notices=self._succeeded(source_row),
        )

    def _event_row(self, source: Source, version: Version, latest: _Latest | None, change: ClauseChange,
                   alerting: bool) -> ChangeEvent:
        return ChangeEvent(
            source_id=source.id, version_id=version.id, previous_version_id=latest.version_id if latest else None,
            key=change.key, path=change.path, kind=change.kind, categories=list(change.categories),
            direction=change.direction, reason=change.reason, before=change.before, after=change.after,
            diff=[list(op) for op in change.diff],
            alert=alerting and change.direction in ALERTING_DIRECTIONS,
            detected_at=version.observed_at,
        )

    def _revert_of(self, session: Session, source_id: str, text_sha256: str) -> int | None:
        recent = session.execute(
            select(Version.seq, Version.text_sha256).where(Version.source_id == source_id)
            .order_by(Version.seq.desc()).limit(self.revert_window)
        ).all()
        return next((seq for seq, sha in recent if sha == text_sha256), None)

    @staticmethod
    def _baseline(session: Session, source_id: str, latest: _Latest, language: str | None) -> _Latest | None:
        """The version a new one in `language` is compared with: the latest, or if that one is in another
        language, the last version in this one (None if there is none). An unknown language matches any."""
        if language is None or latest.language in (None, language):
            return latest
        row = session.execute(
            select(Version.id, Version.seq, Version.text, Version.text_sha256)
            .where(Version.source_id == source_id, Version.language == language)
            .order_by(Version.seq.desc()).limit(1)
        ).first()
        return _Latest(*row, clauses=None, language=language) if row else None

    @staticmethod
    def _seen_body(session: Session, source_id: str, result: FetchResult) -> tuple[Snapshot | None, Document | None]:
        """The snapshot kept of this body, if any, and the document (title and text) the body gave when last
        accepted, if known (from its snapshot, or from the source's newest accepted capture, which keeps only
        the body's hash)."""
        sha256 = _sha256(result.body)
        snapshot = session.execute(
            select(Snapshot).where(Snapshot.source_id == source_id, Snapshot.sha256 == sha256)
        ).scalar_one_or_none()
        if snapshot is not None:
            snapshot.first_seen = min(snapshot.first_seen, result.started_at)
            snapshot.last_seen = max(snapshot.last_seen, result.started_at)
            return snapshot, _document_of_snapshot(session, snapshot.id)
        return None, _document_of_newest_body(session, source_id, sha256)

    @staticmethod
    def _keep_snapshot(session: Session, source_id: str, result: FetchResult,
                       analysis: Analysis | None, origin: str | None = None) -> Snapshot:
        """A new snapshot row holding this body (compressed), as the evidence of a version or a failure."""
        sha256 = _sha256(result.body)
        compressed = analysis.compressed_body if analysis is not None else None
        snapshot = Snapshot(
            source_id=source_id, sha256=sha256, content_type=result.content_type, size=len(result.body),
            body=compressed or compress_body(result.body), first_seen=result.started_at,
            last_seen=result.started_at, origin=origin,
        )
        session.add(snapshot)
        session.flush()
        return snapshot

    def _refresh_latest(self, session: Session, source_ids: set[str]) -> None:
        """Bring the cached latest version of these sources up to date: another process may have recorded
        one since. Two queries, whatever the number of sources."""
        if not source_ids:
            return
        newest = dict(session.execute(_NEWEST_VERSIONS, {"source_ids": list(source_ids)}).all())
        stale = [source_id for source_id in source_ids
                 if source_id not in self._latest or _version_id(self._latest[source_id]) != newest.get(source_id)]
        loaded: dict[str, _Latest] = {}
        if any(source_id in newest for source_id in stale):
            rows = session.execute(select(Version.source_id, Version.id, Version.seq, Version.text, Version.text_sha256,
                                          Version.language, Version.extraction)
                                   .where(Version.id.in_([newest[s] for s in stale if s in newest])))
            loaded = {row.source_id: _Latest(*row[1:5], clauses=None, language=row.language,
                                             extraction=row.extraction) for row in rows}
        for source_id in stale:
            self._latest[source_id] = loaded.get(source_id)

    @staticmethod
    def _clauses_of(session: Session, latest: _Latest) -> list[Clause]:
        """The clauses of the latest version, loaded from the database the first time they are needed."""
        if latest.clauses is None:
            rows = session.execute(select(ClauseRow).where(ClauseRow.version_id == latest.version_id)
                                   .order_by(ClauseRow.position)).scalars()
            latest.clauses = [clause_from_row(row) for row in rows]
        return latest.clauses


# The id of each source's newest version (`source_ids` is a list). Built once: building this statement
# costs more than running it.
_NEWEST_SEQ = (select(Version.source_id, func.max(Version.seq).label("seq"))
               .where(Version.source_id.in_(bindparam("source_ids", expanding=True)))
               .group_by(Version.source_id).subquery())
_NEWEST_VERSIONS = select(Version.source_id, Version.id).join(
    _NEWEST_SEQ, and_(Version.source_id == _NEWEST_SEQ.c.source_id, Version.seq == _NEWEST_SEQ.c.seq))


def _forget_history(session: Session, source_row: SourceRow) -> None:
    """Delete a source's attempts, versions, clauses and change events (and the outbox rows of those events),
    keeping its row and snapshots, so that its history can be recorded again."""
    from monitor.store import Notification

    source_id = source_row.id
    events = select(ChangeEvent.id).where(ChangeEvent.source_id == source_id)
    versions = select(Version.id).where(Version.source_id == source_id)
    session.execute(delete(Notification).where(Notification.event_id.in_(events)))
    session.execute(delete(ChangeEvent).where(ChangeEvent.source_id == source_id))
    session.execute(delete(FetchAttempt).where(FetchAttempt.source_id == source_id))
    session.execute(delete(ClauseRow).where(ClauseRow.version_id.in_(versions)))
    session.execute(delete(Version).where(Version.source_id == source_id))
    source_row.failures_in_a_row = 0


def _newest_accepted_attempt(source_id: Any) -> Any:
    """The id of the source's newest attempt that gave a version (new or unchanged), as a scalar subquery;
    `source_id` is a value or a column of the enclosing query."""
    query = (select(FetchAttempt.id).where(FetchAttempt.source_id == source_id, FetchAttempt.version_id.is_not(None))
             .order_by(FetchAttempt.id.desc()).limit(1))
    return (query.correlate(SourceRow) if source_id is SourceRow.id else query).scalar_subquery()


def _document_of_newest_body(session: Session, source_id: str, sha256: str) -> Document | None:
    """The document of the source's newest accepted capture, if its body was this one."""
    row = session.execute(
        select(Version.title, Version.text).join(FetchAttempt, FetchAttempt.version_id == Version.id)
        .where(FetchAttempt.id == _newest_accepted_attempt(source_id), FetchAttempt.body_sha256 == sha256)
    ).first()
    return Document(title=row.title, text=row.text) if row else None


def _document_of_snapshot(session: Session, snapshot_id: int) -> Document | None:
    """The document a snapshot gave when it was last accepted, so an identical body is never parsed twice."""
    version_id = session.execute(
        select(FetchAttempt.version_id).where(FetchAttempt.snapshot_id == snapshot_id,
                                              FetchAttempt.version_id.is_not(None))
        .order_by(FetchAttempt.id.desc()).limit(1)
    ).scalar_one_or_none()
    if version_id is None:
        return None
    row = session.execute(select(Version.title, Version.text).where(Version.id == version_id)).one()
    return Document(title=row.title, text=row.text)


def log_outcome(source: Source, result: FetchResult, outcome: CaptureOutcome) -> None:
    log_capture(source.id, outcome.outcome, attempt_outcome=outcome.attempt_outcome, attempt_id=outcome.attempt_id,
                http_status=result.http_status, body_bytes=len(result.body), fetch_ms=result.elapsed_ms,
                record_ms=outcome.record_ms, version_seq=outcome.version_seq, revert_of_seq=outcome.revert_of_seq,
                events=len(outcome.events), error=outcome.error)


def _text_to_measure_against(document: Document, latest: _Latest | None) -> str | None:
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


def _version_id(latest: _Latest | None) -> int | None:
    return latest.version_id if latest is not None else None


def _remember_validators(source_row: SourceRow, result: FetchResult) -> None:
    if result.etag or result.last_modified:
        source_row.etag, source_row.last_modified = result.etag, result.last_modified


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clause_from_row(row: ClauseRow) -> Clause:
    return Clause(key=row.key, path=row.path, heading=row.heading, text=row.text,
                  categories=tuple(row.categories), rules=tuple(row.rules), features=dict(row.features or {}),
                  label=row.label, lead=row.lead)


def upsert_source(session: Session, source: Source) -> SourceRow:
    """Insert the source's row, or bring its settings up to date with sources.yaml."""
    row = _source_row(session, session.get(SourceRow, source.id), source)
    session.flush()
    return row


def upsert_sources(session: Session, sources: Sequence[Source]) -> list[SourceRow]:
    """`upsert_source` for many sources: one query finds the existing rows, one flush writes them all."""
    existing = {row.id: row for row in session.scalars(
        select(SourceRow).where(SourceRow.id.in_([source.id for source in sources])))}
    rows = [_source_row(session, existing.get(source.id), source) for source in sources]
    session.flush()
    return rows


def _source_row(session: Session, row: SourceRow | None, source: Source) -> SourceRow:
    if row is None:
        row = SourceRow(id=source.id, created_at=dt.datetime.now(dt.timezone.utc), failures_in_a_row=0)
        session.add(row)
    row.provider, row.title, row.url = source.provider, source.title, source.url
    row.kind, row.format, row.enabled = source.kind, source.format, source.enabled
    row.config = source.model_dump(mode="json", exclude={"id", "provider", "title", "url", "kind", "format",
                                                         "enabled"})
    return row


def _only_the_method_changed(session: Session, source: Source, latest: _Latest | None, document: Document,
                             result: FetchResult) -> bool:
    """Whether a text found by another method than the latest version's (selectors, automatic location) is
    what that method finds in the latest version's page too: then the switch, not the terms, changed it.

    Both pages are compared as automatic location reads them, the one method that reads any page."""
    methods = (latest.extraction if latest else None, document.method or None)
    if None in methods or methods[0] == methods[1]:
        return False
    if latest.extraction == AUTOMATIC:
        before = latest.text
    else:
        row = session.execute(select(Snapshot.body, Snapshot.content_type)
                              .join(Version, Version.snapshot_id == Snapshot.id)
                              .where(Version.id == latest.version_id)).first()
        if row is None:
            return False
        before = _automatic_text(zlib.decompress(row.body), row.content_type, source)
    now = (document.text if document.method == AUTOMATIC
           else _automatic_text(result.body, result.content_type, source))
    return now is not None and now == before


def _automatic_text(body: bytes, content_type: str | None, source: Source) -> str | None:
    try:
        with contained():
            return extract_document(body, format=source.format, content_type=content_type,
                                    remove=source.remove).text
    except ExtractionError:
        return None


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


def _extraction_notices(source: Source, source_row: SourceRow, document: Document) -> list[dict]:
    """One `selector_drift` notice when the source's selectors stop matching (its text then found
    automatically), one `selector_recovered` when they match again; the method is kept on the source row."""
    method = document.method
    if not method:  # not HTML, or a body seen before whose text was reused
        return []
    before, source_row.extraction = source_row.extraction, method
    if not source.select or before == method:
        return []
    if method == AUTOMATIC:
        notice = source_notice("selector_drift", source_row)
        notice["error"] = f"{selector_drift_reason(source.select)}; the terms were found automatically"
        return [notice]
    return [source_notice("selector_recovered", source_row)] if before == AUTOMATIC else []


def _with_notices(outcome: CaptureOutcome, notices: list[dict]) -> CaptureOutcome:
    return replace(outcome, notices=notices + outcome.notices) if notices else outcome


ProgressCallback = Callable[[Source, CaptureOutcome], None]


@dataclass
class CycleSummary:
    """What one crawl cycle did, for the one-line summary and the exit code."""

    checked: int = 0
    new_versions: int = 0
    unchanged: int = 0
    failed: int = 0
    alerts: int = 0
    outcomes: list[CaptureOutcome] = field(default_factory=list)
    alert_failures: list[str] = field(default_factory=list)

    def add(self, outcome: CaptureOutcome) -> None:
        self.outcomes.append(outcome)
        self.checked += 1
        self.new_versions += outcome.outcome == NEW_VERSION
        self.unchanged += outcome.outcome in (UNCHANGED, NOT_MODIFIED)
        self.failed += outcome.outcome == FAILED
        self.alerts += len(outcome.events)

    def line(self) -> str:
        return (f"checked {self.checked}, new versions {self.new_versions}, unchanged {self.unchanged}, "
                f"failed {self.failed}, alerts {self.alerts}")


def run_cycle(recorder: Recorder, sources: Sequence[Source], fetch_settings: Any,
              notifiers: Sequence[Any] = (), on_progress: ProgressCallback | None = None,
              analysis_processes: int | None = None, politeness: Any = None) -> CycleSummary:
    """Fetch every source once (concurrently), record each result as it arrives, send the alerts.

    A body not seen before goes to a worker process, which analyses it (extracts it, classifies its clauses)
    and stores the capture, a few captures per transaction. One recording thread stores the other captures
    (unchanged, not modified, failed; those that queue up while it works in one transaction), and logs,
    counts and alerts on every capture in the order their fetches finished, so the event loop keeps
    fetching meanwhile. `analysis_processes` (default: $CLAUSEWATCH_ANALYSIS_PROCESSES, else one per core)
    sets the workers; with 0, or a database only this process can open, the recording thread does all of
    it, and so it does in a cycle of a few sources when no earlier cycle has started the workers.
    `politeness` (a monitor.fetch.politeness.Politeness): per-host limits and robots.txt rules shared with
    other cycles, as a daemon's jobs share them; by default the cycle's own.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from monitor.analysis import analysis_processes as default_processes
    from monitor.analysis import MIN_SOURCES_TO_START_WORKERS, shared_pool
    from monitor.fetch import FetchRequest

    pool = shared_pool(default_processes() if analysis_processes is None else analysis_processes,
                       start=len(sources) >= MIN_SOURCES_TO_START_WORKERS)
    recorder.sync_sources(sources)
    source_ids = [source.id for source in sources]
    validators = recorder.conditional_headers(source_ids)
    database_url = recorder.shared_database_url() if pool is not None else None
    known_bodies = recorder.known_bodies(source_ids) if database_url else {}
    requests = [FetchRequest(source, *validators.get(source.id, (None, None))) for source in sources]
    summary = CycleSummary()
    fetched: queue.SimpleQueue = queue.SimpleQueue()

    to_analysis = _AnalysisBatches(pool, AnalysisStoreSpec.of(recorder, database_url)) if database_url else None
    backlog = Backlog()

    def hand_over(request: Any, result: FetchResult) -> None:
        stored_by_analysis = None
        if to_analysis and result.ok and _sha256(result.body) not in known_bodies.get(request.source.id, ()):
            stored_by_analysis = to_analysis.add(request.source, result)
        backlog.add(len(result.body))
        fetched.put((request.source, result, stored_by_analysis))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="record") as recording:
        recorded = recording.submit(_record_fetched, recorder, fetched, notifiers, summary, on_progress, pool,
                                    backlog)
        try:
            asyncio.run(_fetch_all(requests, fetch_settings, hand_over, politeness, backlog.admit))
        finally:
            if to_analysis:
                to_analysis.send()
            fetched.put(None)  # the recorder stores what was fetched, then stops
        recorded.result()
    summary.alert_failures += deliver_notifications(recorder)
    return summary


def deliver_notifications(recorder: Recorder) -> list[str]:
    """Send what the outbox holds that is due (after the commit); one line per channel failure."""
    if recorder.alerts is None:
        return []
    from monitor.alerts.outbox import deliver_outbox

    return deliver_outbox(recorder.engine, recorder.alerts).errors


class Backlog:
    """The bytes of fetched bodies not yet recorded, and the fetchers' back-pressure: over the limit, no new
    fetch starts until the recording thread (and the analysis processes it waits for) catch up, so a slow
    database or a burst of new pages holds memory to about `limit` plus the fetches in flight."""

    POLL_SECONDS = 0.02

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_BACKLOG_BYTES if limit is None else limit
        self._bytes = 0
        self._lock = threading.Lock()
        self._gate: asyncio.Lock | None = None  # made in the event loop that awaits it

    def add(self, size: int) -> None:
        with self._lock:
            self._bytes += size

    def done(self, size: int) -> None:
        with self._lock:
            self._bytes -= size

    @property
    def waiting(self) -> int:
        return self._bytes

    async def admit(self) -> None:
        """Return when the backlog is under its limit; one waiter polls, the others queue behind it."""
        if self._bytes < self.limit:
            return
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            while self._bytes >= self.limit:
                await asyncio.sleep(self.POLL_SECONDS)


async def _fetch_all(requests: list[Any], settings: Any, on_result: Callable[[Any, FetchResult], None],
                     politeness: Any = None, admit: Callable[[], Any] | None = None) -> None:
    """HTTP sources and browser sources fetched side by side."""
    import asyncio

    from monitor.fetch import fetch_sources
    from monitor.fetch.browser import fetch_with_browser

    by_browser = [request for request in requests if request.source.fetcher == "browser"]
    by_http = [request for request in requests if request.source.fetcher != "browser"]
    await asyncio.gather(fetch_sources(by_http, settings, on_result=on_result, politeness=politeness, admit=admit,
                                       keep_results=False),
                         fetch_with_browser(by_browser, settings, on_result=on_result))


def check_captures(sources: Sequence[Source], settings: Any,
                   on_check: Callable[[SourceCheck], None] | None = None) -> list[SourceCheck]:
    """Fetch each source once and check what would be extracted; stores nothing."""
    import asyncio

    from monitor.fetch import FetchRequest

    checks: dict[str, SourceCheck] = {}

    def checked(request: Any, result: FetchResult) -> None:
        checks[request.source.id] = check_capture(request.source, result)
        if on_check:
            on_check(checks[request.source.id])

    asyncio.run(_fetch_all([FetchRequest(source) for source in sources], settings, checked))
    return [checks[source.id] for source in sources]


def fetch_once(source: Source, settings: Any) -> FetchResult:
    """One fetch of one source with the fetcher it names (no storing)."""
    import asyncio

    from monitor.fetch import FetchRequest

    results: list[FetchResult] = []
    asyncio.run(_fetch_all([FetchRequest(source)], settings, lambda request, result: results.append(result)))
    return results[0]


def _record_fetched(recorder: Recorder, fetched: queue.SimpleQueue, notifiers: Sequence[Any],
                    summary: CycleSummary, on_progress: ProgressCallback | None, pool: AnalysisPool | None,
                    backlog: Backlog | None = None) -> None:
    """Take the (source, result, worker's outcome) items handed over until None comes; store those no
    worker stored; log, count and report every outcome and send its alerts.

    The captures waiting when the recorder gets to them are stored in one transaction (up to
    CAPTURES_PER_TRANSACTION). If that fails they are stored one by one, and a capture that cannot be
    stored is stored as a failed capture (`Recorder.record_or_fail`); only an error storing even that (the
    database failing) is raised, the first one, once every other capture is stored.
    """
    from monitor.alerts import send_alerts

    errors: list[Exception] = []
    finished = False
    while not finished:
        items = [fetched.get()]
        while len(items) < CAPTURES_PER_TRANSACTION and not fetched.empty():
            items.append(fetched.get())
        if items[-1] is None:
            finished = True
            items.pop()
        recorded, to_store = [], []
        for source, result, stored_by_analysis in items:
            outcome = _analysed_outcome(source, pool, stored_by_analysis)
            if outcome is None:
                to_store.append(Capture(source, result))
            else:
                log_outcome(source, result, outcome)
                recorded.append((source, outcome))
        recorded += [(capture.source, outcome) for capture, outcome in _record_together(recorder, to_store, errors)]
        for source, outcome in recorded:
            summary.add(outcome)
            summary.alert_failures += send_alerts(notifiers, outcome.events + outcome.notices)
            if on_progress:
                on_progress(source, outcome)
        if backlog is not None:
            backlog.done(sum(len(result.body) for _, result, _ in items))
        del items, recorded, to_store  # the bodies go now, not when the next batch replaces them
    if errors:
        raise errors[0]


def _record_together(recorder: Recorder, captures: list[Capture],
                     errors: list[Exception]) -> list[tuple[Capture, CaptureOutcome]]:
    """The captures stored in one transaction, else one by one (each a failed capture if it cannot be
    stored); the errors of those that cannot be stored at all go to `errors`."""
    if not captures:
        return []
    if len(captures) > 1:
        try:
            return list(zip(captures, recorder.record_many(captures), strict=True))
        except Exception:  # noqa: BLE001 - stored one by one below, so that what fails fails alone
            pass
    recorded = []
    for capture in captures:
        try:
            recorded.append((capture, recorder.record_or_fail(capture)))
        except Exception as error:  # noqa: BLE001 - the run goes on; run_cycle raises it at the end
            errors.append(error)
    return recorded


def _analysed_outcome(source: Source, pool: AnalysisPool | None,
                    stored_by_analysis: Future[CaptureOutcome] | None) -> CaptureOutcome | None:
    """What a worker stored of this capture; None if no worker was asked or it failed (whatever it did was
    rolled back, and the capture is stored by this process)."""
    if stored_by_analysis is None:
        return None
    try:
        return stored_by_analysis.result()
    except BrokenProcessPool:
        if pool is not None:
            discard_pool(pool)
    except Exception as error:  # noqa: BLE001 - a bug met in a worker is met again, and reported, here
        logging.getLogger(__name__).warning("storing %s in a worker process failed (%s: %s); storing it in the "
                                            "main process", source.id, type(error).__name__, error)
    return None


@dataclass(frozen=True)
class AnalysisStoreSpec:
    """What an analysis process needs to store a capture as a `Recorder` would: the database and settings.
    (Analysis processes analyse and store new bodies for one cycle; `clausewatch worker` is a crawl worker.)"""

    database_url: str
    revert_window: int
    failing_after: int
    alerts: Any

    @classmethod
    def of(cls, recorder: Recorder, database_url: str) -> AnalysisStoreSpec:
        # A worker only queues notifications: it gets the routes, not the channels' live senders (a sender
        # made by an earlier delivery may hold connections, which cannot be sent to another process).
        alerts = replace(recorder.alerts, _notifiers={}) if recorder.alerts is not None else None
        return cls(database_url, recorder.revert_window, recorder.failing_after, alerts)


class _AnalysisBatches:
    """New bodies on their way to the worker processes, a few to a task: the worker stores each batch in one
    transaction. A batch leaves when it is full or when its first body has waited BATCH_WAIT_SECONDS."""

    def __init__(self, pool: AnalysisPool, spec: AnalysisStoreSpec) -> None:
        self.pool, self.spec = pool, spec
        self.waiting: list[tuple[Source, FetchResult, Future[CaptureOutcome]]] = []

    def add(self, source: Source, result: FetchResult) -> Future[CaptureOutcome]:
        """What a worker will have stored of this capture (called in the event loop)."""
        import asyncio

        stored: Future[CaptureOutcome] = Future()
        self.waiting.append((source, result, stored))
        if len(self.waiting) >= ANALYSIS_BATCH:
            self.send()
        elif len(self.waiting) == 1:
            asyncio.get_running_loop().call_later(BATCH_WAIT_SECONDS, self.send)
        return stored

    def send(self) -> None:
        batch, self.waiting = self.waiting, []
        if not batch:
            return
        captures = [(source, result) for source, result, _ in batch]
        job = self.pool.submit(_record_in_analysis_process, self.spec, captures)
        stored = [stored for _, _, stored in batch]
        if job is None:
            _settle(stored, None, BrokenProcessPool("the analysis workers are gone"))
            return
        job.add_done_callback(lambda done: _settle(stored, *_outcome_of(done)))


def _outcome_of(job: Future) -> tuple[list | None, BaseException | None]:
    try:
        return job.result(), None
    except BaseException as error:  # noqa: BLE001 - the worker's error, or the job's cancellation
        return None, error


def _settle(futures: list[Future], outcomes: list | None, error: BaseException | None) -> None:
    for index, future in enumerate(futures):
        if outcomes is not None:
            future.set_result(outcomes[index])
        else:
            future.set_exception(error)


def _record_in_analysis_process(spec: AnalysisStoreSpec,
                                captures: list[tuple[Source, FetchResult]]) -> list[CaptureOutcome]:
    """In a worker process: analyse new bodies and store their captures in one transaction (logged by the
    process that fetched them)."""
    from monitor.analysis import analyse_body

    recorder = Recorder(_analysis_engine(spec.database_url), revert_window=spec.revert_window,
                        failing_after=spec.failing_after, alerts=spec.alerts)
    latest = latest_text_hashes(recorder.engine, [source.id for source, _ in captures])
    return recorder._store([Capture(source, result, analysis=analyse_body(result.body, result.content_type, source,
                                                                          latest.get(source.id)))
                            for source, result in captures])


def latest_text_hashes(engine: Engine, source_ids: Sequence[str]) -> dict[str, str]:
    """Each source's latest version's text hash (read without a lock: a hint for the analysis, which the
    recording transaction checks again)."""
    with session_scope(engine) as session:
        return dict(session.execute(
            select(Version.source_id, Version.text_sha256).where(Version.id.in_(
                select(_NEWEST_VERSIONS.subquery().c.id))), {"source_ids": list(source_ids)}).all())


# A worker's engines, by database URL, the last few used. A worker keeps SQLite connections (opening one
# costs more than a capture's queries) but no connection to a server, which could not drop a database
# while a worker holds it open.
_analysis_engines: dict[str, Engine] = {}
ANALYSIS_ENGINES = 4


def _analysis_engine(database_url: str) -> Engine:
    from monitor.store import connect

    if database_url not in _analysis_engines:
        if len(_analysis_engines) >= ANALYSIS_ENGINES:
            _analysis_engines.pop(next(iter(_analysis_engines))).dispose()
        _analysis_engines[database_url] = connect(database_url,
                                                keep_connections=database_url.startswith("sqlite"))
    return _analysis_engines[database_url]


def ingest_file(recorder: Recorder, source: Source, path: str, at: dt.datetime | None = None,
                notifiers: Sequence[Any] = ()) -> CaptureOutcome:
    """Record a local file as a fetch of `source` at time `at` (now by default): the same path as `run`."""
    from monitor.alerts import send_alerts
    from monitor.fetch import read_file

    result = read_file(path)
    if at is not None:
        result = replace(result, started_at=at, url=source.url)
    else:
        result = replace(result, url=source.url)
    outcome = recorder.record_or_fail(Capture(source, result))
    send_alerts(notifiers, outcome.events + outcome.notices)
    for failure in deliver_notifications(recorder):
        logging.getLogger(__name__).warning("alert channel failed: %s", failure)
    return outcome


def reextract_source(recorder: Recorder, source: Source) -> CaptureOutcome | None:
    """Extract the source's newest stored snapshot again with today's selectors and code.

    A text that differs from the latest version makes a technical version, which never alerts.
    Returns None when the source has no stored snapshot.
    """
    from monitor.fetch import OK

    with session_scope(recorder.engine) as session:
        snapshot = session.execute(
            select(Snapshot).join(FetchAttempt, FetchAttempt.snapshot_id == Snapshot.id)
            .where(Snapshot.source_id == source.id).order_by(FetchAttempt.id.desc()).limit(1)
        ).scalar_one_or_none()
        if snapshot is None:
            return None
        body, content_type = zlib.decompress(snapshot.body), snapshot.content_type
    result = FetchResult(url=source.url, outcome=OK, started_at=dt.datetime.now(dt.timezone.utc), elapsed_ms=0,
                         body=body, content_type=content_type)
    return recorder.record_or_fail(Capture(source, result, technical=True))


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
