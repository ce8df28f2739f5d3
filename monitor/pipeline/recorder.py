"""Recording captures: `Recorder` stores each fetch result and what follows from it (attempt, snapshot,
version, clauses, change events), one transaction per batch of captures."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from monitor.analysis import ANALYSIS_ERROR, Analysis, contained, failure_reason
from monitor.changes import ClauseChange, compare_clauses
from monitor.clauses import Clause, extract_clauses
from monitor.clauses.language import detect_language
from monitor.directions import ALERTING_DIRECTIONS
from monitor.errors import ExtractionError
from monitor.extract import Document, extract_document
from monitor.fetch import NOT_MODIFIED, FetchResult
from monitor.sources import Source
from monitor.store import ChangeEvent, FetchAttempt, Snapshot, SourceRow, Version, session_scope
from monitor.store.bulk import insert_clauses
from monitor.store.db import begin_writing
from monitor.store.payloads import FAILING_AFTER, event_payload, source_notice
from monitor.pipeline.capture import (FAILED, NEW_VERSION, UNCHANGED, Capture, CaptureOutcome, _Latest, log_outcome,
                                      _sha256, _with_notices)
from monitor.pipeline.checks import check_extracted, _extraction_notices, _text_to_measure_against
from monitor.pipeline.rows import (_NEWEST_VERSIONS, _baseline, _clauses_of, _forget_history, _keep_snapshot,
                                   _newest_accepted_attempt, _only_the_method_changed, _remember_validators, _seen_body,
                                   upsert_source, upsert_sources, _version_key)

# How many recent versions a new text is compared with to call it a revert (flap), not news.
REVERT_WINDOW = 5
# Storing captures is tried this many times when the database refuses it for a row another process wrote
# meanwhile (a source both created); each try reads the source's latest version again.
STORE_TRIES = 3


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
        snapshot, known = _seen_body(session, source.id, result)
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
        clauses = analysis.clauses if analysis is not None else None
        if clauses is None:
            try:
                with contained():
                    clauses = tuple(extract_clauses(document.text, kind=source.kind))
            except ExtractionError as error:
                return self._invalid(session, source_row, attempt, result, analysis, error, origin)
        snapshot = snapshot or _keep_snapshot(session, source.id, result, analysis, origin)
        attempt.snapshot_id = snapshot.id  # the evidence of the version
        language = analysis.language if analysis is not None else None
        return _with_notices(self._new_version(session, source, source_row, attempt, result, snapshot, document,
                                               text_sha256, latest, technical, clauses, language), notices)

    def _invalid(self, session: Session, source_row: SourceRow, attempt: FetchAttempt, result: FetchResult,
                 analysis: Analysis | None, error: ExtractionError, origin: str | None = None) -> CaptureOutcome:
        """A body fetched that makes no version (invalid, too short, ...). The first of a failing streak is
        kept, so what the page showed when it began to fail can be seen; the rest keep their hash only."""
        attempt.outcome, attempt.error = error.kind, error.reason
        if attempt.snapshot_id is None and source_row.failures_in_a_row == 0:
            attempt.snapshot_id = _keep_snapshot(session, source_row.id, result, analysis, origin).id
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
                     latest: _Latest | None, technical: bool, new: tuple[Clause, ...],
                     language: str | None = None) -> CaptureOutcome:
        revert_of = self._revert_of(session, source.id, text_sha256) if latest else None
        language = language or detect_language(document.text)  # an analysis process may have found it
        # compared with the last version in its own language; the first in a new language is only recorded
        baseline = _baseline(session, source.id, latest, language) if latest else None
        technical = (technical or (latest is not None and baseline is None)
                     or _only_the_method_changed(session, source, latest, document, result))
        clauses: list[Clause] | None = None  # a first version's are loaded when a comparison needs them
        changes: list[ClauseChange] = []
        if baseline is not None:
            clauses, changes = compare_clauses(_clauses_of(session, baseline), list(new))
        version = Version(
            source_id=source.id, seq=(latest.seq + 1) if latest else 1, observed_at=result.started_at,
            title=document.title, text=document.text, text_sha256=text_sha256, snapshot_id=snapshot.id,
            revert_of_seq=revert_of, technical=technical, language=language, extraction=document.method or None,
        )
        session.add(version)
        session.flush()
        insert_clauses(session, version.id, new if clauses is None else clauses)
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

    def _refresh_latest(self, session: Session, source_ids: set[str]) -> None:
        """Bring the cached latest version of these sources up to date: another process may have recorded
        one since. Two queries, whatever the number of sources."""
        if not source_ids:
            return
        newest = {row.source_id: (row.id, row.seq, row.text_sha256)
                  for row in session.execute(_NEWEST_VERSIONS, {"source_ids": list(source_ids)})}
        stale = [source_id for source_id in source_ids
                 if source_id not in self._latest or _version_key(self._latest[source_id]) != newest.get(source_id)]
        loaded: dict[str, _Latest] = {}
        if any(source_id in newest for source_id in stale):
            rows = session.execute(select(Version.source_id, Version.id, Version.seq, Version.text, Version.text_sha256,
                                          Version.language, Version.extraction)
                                   .where(Version.id.in_([newest[s][0] for s in stale if s in newest])))
            loaded = {row.source_id: _Latest(*row[1:5], clauses=None, language=row.language,
                                             extraction=row.extraction) for row in rows}
        for source_id in stale:
            self._latest[source_id] = loaded.get(source_id)
