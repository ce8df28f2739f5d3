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

from monitor.alerts.outbox import queue_notifications
from monitor.analysis import ANALYSIS_ERROR, Analysis, failure_reason, text_sha256
from monitor.fetch import NOT_MODIFIED, FetchResult
from monitor.sources import Source
from monitor.extract import Document
from monitor.store import ChangeEvent, FetchAttempt, Snapshot, SourceRow, Version, session_scope
from monitor.store.bulk import insert_clauses
from monitor.store.db import writing_session
from monitor.store.payloads import FAILING_AFTER, RecordedVersion, SourceNotice, event_payload, source_notice
from monitor.pipeline.capture import (FAILED, NEW_VERSION, UNCHANGED, Capture, CaptureOutcome, LatestVersion,
                                      log_outcome, _sha256)
from monitor.pipeline.decide import (Comparison, Decision, Event, Failed, NewText, NewVersion, Notice, NotModified,
                                     PreviousState, Unchanged, compared, decide_capture, decide_version)
from monitor.pipeline.rows import (_NEWEST_VERSIONS, _baseline, _forget_history, _keep_snapshot, _latest_versions,
                                   _newest_accepted_attempt, _page_of_version, _recent_versions, _remember_validators,
                                   _seen_body, _version_key, seen_bodies, _with_clauses, upsert_source, upsert_sources)

# How many recent versions a new text is compared with to call it a revert (flap), not news.
REVERT_WINDOW = 5
# Storing captures is tried this many times when the database refuses it for a row another process wrote
# meanwhile (a source both created); each try reads the source's latest version again.
STORE_TRIES = 3
# A process that keeps running (the daemon, the crawl worker) records each source about once per schedule
# period, so a cached latest version (tens of KB of text and clauses) is seldom used again: it keeps this many.
# Unbounded, a daemon over 10,000 sources held every source's latest text (about 75 KB a source).
LONG_RUNNING_CACHED_SOURCES = 256


def _is_new_text(analysis: Analysis | None) -> bool:
    """Whether an analysis process classified this text (it was not the latest version's when it looked)."""
    return (analysis is not None and analysis.document is not None and analysis.clauses is not None
            and analysis.language is not None)


class Recorder:
    """Records captures of sources into the database; keeps each source's latest version in memory.

    One Recorder per process; `record` is safe to call from several threads (one lock per source), and from
    several processes at once (each transaction holds its sources in the database before it reads them).
    `cache_sources`: keep the latest versions of at most this many sources in memory (the least recently
    recorded are read again when next needed); None for every source.
    """

    def __init__(self, engine: Engine, *, revert_window: int = REVERT_WINDOW,
                 failing_after: int = FAILING_AFTER, alerts: Any = None, cache_sources: int | None = None) -> None:
        self.engine = engine
        # clausewatch.yaml (an AlertsConfig): with it, notifications go through the outbox
        self.alerts = alerts
        self.revert_window = revert_window
        self.failing_after = failing_after
        self.cache_sources = cache_sources
        self._latest: dict[str, LatestVersion | None] = {}  # least recently recorded first
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

    def record_many(self, captures: Sequence[Capture], *, log: bool = True) -> list[CaptureOutcome]:
        """Store several captures in one transaction, in order: the rows and outcomes `record` would give
        one by one, for one commit and a few queries on their sources however many they are.

        All or nothing: if any capture fails to store, none is stored and the error is raised. With `log`
        false the outcomes are not logged: a worker process leaves that to the process that sent it the work.
        """
        outcomes = self._store(captures)
        if log:  # after the commit, so a log line always stands for a recorded capture
            for capture, outcome in zip(captures, outcomes, strict=True):
                log_outcome(capture.source, capture.result, outcome)
        return outcomes

    def _store(self, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        started = time.monotonic()
        source_ids = sorted({capture.source.id for capture in captures})
        with contextlib.ExitStack() as held:
            for source_id in source_ids:  # always in the same order, so two callers never wait on each other
                held.enter_context(self._lock(source_id))
            self._compare_ahead(captures)
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

    def _compare_ahead(self, captures: Sequence[Capture]) -> None:
        """Compare each analysed new text with its source's latest version before the write lock is taken (on
        SQLite, the whole database's): comparing is most of what recording a new version costs. The latest
        versions, with their clauses, are read and cached here; the transaction reads them again, and when one
        is still the latest it reuses the comparison (decide.compared)."""
        new_texts = {capture.source.id: capture.analysis for capture in captures if _is_new_text(capture.analysis)}
        if not new_texts:
            return
        pairs = []
        with session_scope(self.engine) as session:  # reads only: no lock
            self._refresh_latest(session, set(new_texts))
            for source_id, analysis in new_texts.items():
                latest = self._latest.get(source_id)
                if (latest is None or latest.language not in (None, analysis.language)
                        or latest.text_sha256 == text_sha256(analysis.document.text)):
                    continue
                if latest.clauses is None:
                    latest = self._latest[source_id] = _with_clauses(session, latest)
                pairs.append((latest.clauses, analysis.clauses))
        for previous, current in pairs:
            compared(previous, current)

    def shared_database_url(self) -> str | None:
        """The database's URL as another process can open it; None for a database only this process sees."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
                return None
            url = url.set(database=os.path.abspath(url.database))
        return url.render_as_string(hide_password=False)

    def _record_in_one_transaction(self, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        # Another process (a daemon beside `run --once`, a worker) may record these sources now: hold them
        # (PostgreSQL: their rows; SQLite: the database) before reading their latest versions, so that a
        # new version's seq and baseline are the true latest until this commits.
        with writing_session(self.engine) as session:
            source_rows = {row.id: row for row in session.scalars(
                select(SourceRow).where(SourceRow.id.in_({capture.source.id for capture in captures}))
                .order_by(SourceRow.id).with_for_update())}
            self._refresh_latest(session, {capture.source.id for capture in captures if capture.result.ok})
            recorded = self._record_each(session, captures, source_rows)
            for outcome, version in recorded:
                self._queue_notifications(session, outcome, version)
        return [outcome for outcome, _ in recorded]

    def _record_each(self, session: Session, captures: Sequence[Capture], source_rows: dict[str, SourceRow]
                     ) -> list[tuple[CaptureOutcome, RecordedVersion | None]]:
        """Each capture's outcome, and the new version it wrote if any."""
        recorded = []
        seen = _seen_bodies_of_distinct_sources(session, captures)
        for capture in captures:
            source, result = capture.source, capture.result
            if source.id not in source_rows:
                source_rows[source.id] = upsert_source(session, source)
            attempt = FetchAttempt(
                source_id=source.id, started_at=result.started_at, outcome=result.outcome,
                http_status=result.http_status, bytes=len(result.body), elapsed_ms=result.elapsed_ms,
                error=result.error, body_sha256=_sha256(result.body) if result.body else None,
            )
            outcome, version = self._record(session, capture, source_rows[source.id], attempt, seen.get(source.id))
            session.add(attempt)  # added complete, so it is one INSERT and no UPDATE
            recorded.append((attempt, outcome, version))
        session.flush()  # the attempts not yet flushed go in together
        return [(replace(outcome, attempt_id=attempt.id), version) for attempt, outcome, version in recorded]

    def replace_history(self, source_id: str, captures: Sequence[Capture]) -> list[CaptureOutcome]:
        """Record `captures` (every capture of one source, oldest first) as that source's whole history, in
        place of its stored attempts, versions, clauses and change events, in one transaction; its snapshots
        are kept. For a backfill of older history: seqs and events come out as if recorded in time order.
        Nobody is alerted (no outbox rows)."""
        with self._lock(source_id):
            try:
                with writing_session(self.engine) as session:
                    source_row = session.get(SourceRow, source_id, with_for_update=True)
                    _forget_history(session, source_row)
                    self._latest[source_id] = None
                    return [outcome for outcome, _ in self._record_each(session, captures, {source_id: source_row})]
            finally:  # what was cached while replaying is only right if it committed: read it again next time
                self._latest.pop(source_id, None)

    def _queue_notifications(self, session: Session, outcome: CaptureOutcome,
                             version: RecordedVersion | None) -> None:
        """Outbox rows for the events and notices of this capture, committed with them (sent later)."""
        if self.alerts is not None:
            queue_notifications(session, self.alerts, outcome, version)

    def _record(self, session: Session, capture: Capture, source_row: SourceRow, attempt: FetchAttempt,
                seen: tuple[Snapshot | None, Document | None] | None = None
                ) -> tuple[CaptureOutcome, RecordedVersion | None]:
        """Decide what the capture is from what the store holds of its source (`seen`: its `_seen_body`, if
        read already), then write that."""
        result = capture.result
        if seen is None:
            seen = _seen_body(session, capture.source.id, result) if result.ok else (None, None)
        snapshot, known = seen
        if snapshot is not None:
            attempt.snapshot_id = snapshot.id
        previous = PreviousState(self._latest[capture.source.id] if result.ok else None, source_row.failures_in_a_row,
                                 source_row.extraction, known, body_stored=snapshot is not None,
                                 text_fingerprint=source_row.text_fingerprint)
        decision = decide_capture(previous, capture, self.failing_after)
        if isinstance(decision, NewText):
            decision = decide_version(previous, capture, decision,
                                      self._comparison(session, capture.source.id, previous.latest, decision))
        return self._write(session, capture, source_row, attempt, snapshot, decision)

    def _comparison(self, session: Session, source_id: str, latest: LatestVersion | None,
                    new: NewText) -> Comparison:
        """What a new text is compared with: read from the store, the latest version's clauses kept in memory."""
        if latest is None:
            return Comparison()
        baseline = _baseline(session, source_id, latest, new.language)
        if baseline is not None and baseline.clauses is None:
            baseline = _with_clauses(session, baseline)
            if baseline.version_id == latest.version_id:
                self._latest[source_id] = baseline
        page = _page_of_version(session, latest.version_id) if new.needs_latest_page else None
        return Comparison(_recent_versions(session, source_id, self.revert_window), baseline, page)

    def _write(self, session: Session, capture: Capture, source_row: SourceRow, attempt: FetchAttempt,
               snapshot: Snapshot | None, decision: Decision) -> tuple[CaptureOutcome, RecordedVersion | None]:
        """Store what the decision says: the attempt's outcome, the source row's streak and extraction method,
        and the snapshot and version it makes (returned with the outcome, for the outbox)."""
        source, result = capture.source, capture.result
        notices = [_notice_payload(source_row, notice) for notice in decision.notices]
        source_row.failures_in_a_row = decision.failures_in_a_row
        if isinstance(decision, NotModified):
            return CaptureOutcome(source.id, NOT_MODIFIED, result.outcome, notices=notices), None
        if isinstance(decision, Failed):
            attempt.outcome, attempt.error = decision.kind, decision.error
            if decision.keep_body:
                attempt.snapshot_id = _keep_snapshot(session, source.id, result, decision.compressed_body,
                                                     capture.origin).id
            return CaptureOutcome(source.id, FAILED, decision.kind, error=decision.error, notices=notices), None
        if decision.extraction:
            source_row.extraction = decision.extraction
        _remember_validators(source_row, result)
        if decision.text_fingerprint:
            source_row.text_fingerprint = decision.text_fingerprint
        if isinstance(decision, Unchanged):
            attempt.version_id = decision.version_id
            return (CaptureOutcome(source.id, UNCHANGED, attempt.outcome, version_seq=decision.seq, notices=notices),
                    None)
        return self._write_version(session, capture, source_row, attempt, snapshot, decision, notices)

    def _write_version(self, session: Session, capture: Capture, source_row: SourceRow, attempt: FetchAttempt,
                       snapshot: Snapshot | None, decision: NewVersion,
                       notices: list[dict]) -> tuple[CaptureOutcome, RecordedVersion]:
        source, result, new = capture.source, capture.result, decision.text
        snapshot = snapshot or _keep_snapshot(session, source.id, result, new.compressed_body, capture.origin)
        attempt.snapshot_id = snapshot.id  # the evidence of the version
        version = Version(
            source_id=source.id, seq=decision.seq, observed_at=result.started_at, title=new.document.title,
            text=new.document.text, text_sha256=new.text_sha256, snapshot_id=snapshot.id,
            revert_of_seq=decision.revert_of, technical=decision.technical, language=new.language,
            extraction=new.document.method or None,
        )
        session.add(version)
        session.flush()
        insert_clauses(session, version.id, decision.clauses)
        attempt.version_id = version.id
        events = [_event_row(version, decision.previous_version_id, event) for event in decision.events]
        session.add_all(events)
        session.flush()
        # a first version's clauses are loaded when a comparison needs them
        self._latest[source.id] = LatestVersion(version.id, version.seq, version.text, version.text_sha256,
                                                decision.clauses if decision.compared else None, version.language,
                                                version.extraction)
        payloads = [event_payload(event, source_row, version) for event in events]
        outcome = CaptureOutcome(source.id, NEW_VERSION, attempt.outcome, version_seq=version.seq,
                                 revert_of_seq=decision.revert_of, notices=notices,
                                 events=[payload for payload in payloads if payload["alert"]])
        return outcome, RecordedVersion(source_row, version, snapshot.sha256, payloads)

    def _refresh_latest(self, session: Session, source_ids: set[str]) -> None:
        """Bring the cached latest version of these sources up to date: another process may have recorded
        one since. Two queries, whatever the number of sources."""
        if not source_ids:
            return
        newest = {row.source_id: (row.id, row.seq, row.text_sha256)
                  for row in session.execute(_NEWEST_VERSIONS, {"source_ids": list(source_ids)})}
        stale = [source_id for source_id in source_ids
                 if source_id not in self._latest or _version_key(self._latest[source_id]) != newest.get(source_id)]
        loaded = _latest_versions(session, [newest[s][0] for s in stale if s in newest])
        for source_id in source_ids:  # moved last, as the most recently recorded
            cached = self._latest.pop(source_id, None)
            self._latest[source_id] = loaded.get(source_id) if source_id in stale else cached
        self._forget_least_recent()

    def _forget_least_recent(self) -> None:
        """Keep at most `cache_sources` latest versions, forgetting the least recently recorded first; never one
        of a source being recorded (whose lock another store holds, or this one)."""
        excess = len(self._latest) - self.cache_sources if self.cache_sources is not None else 0
        if excess <= 0:
            return
        with self._locks_guard:
            for source_id in list(self._latest)[:excess]:
                lock = self._locks[source_id]
                if lock.acquire(blocking=False):
                    self._latest.pop(source_id, None)
                    lock.release()


def _event_row(version: Version, previous_version_id: int | None, event: Event) -> ChangeEvent:
    change = event.change
    return ChangeEvent(
        source_id=version.source_id, version_id=version.id, previous_version_id=previous_version_id,
        key=change.key, path=change.path, kind=change.kind, categories=list(change.categories),
        direction=change.direction, reason=change.reason, before=change.before, after=change.after,
        diff=[list(op) for op in change.diff], alert=event.alert, detected_at=version.observed_at,
    )


def _notice_payload(source_row: SourceRow, notice: Notice) -> SourceNotice:
    return source_notice(notice.kind, source_row, notice.failure, notice.error, notice.failures_in_a_row)


def _seen_bodies_of_distinct_sources(session: Session, captures: Sequence[Capture]
                                     ) -> dict[str, tuple[Snapshot | None, Document | None]]:
    """What the store has seen of each body, read for the whole batch at once when its sources are distinct;
    a source captured twice (a history replayed) reads its bodies one by one, each after the one before."""
    bodies = [capture for capture in captures if capture.result.ok]
    if len({capture.source.id for capture in bodies}) < len(bodies):
        return {}
    return seen_bodies(session, {capture.source.id: capture.result for capture in bodies})
