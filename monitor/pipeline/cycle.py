"""One crawl cycle: fetch every source, hand each body over (to an analysis process or the recording
thread), record, count and alert; with the fetchers' back-pressure (`Backlog`)."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.alerts import send_alerts
from monitor.alerts.outbox import deliver_outbox
from monitor.analysis import MIN_SOURCES_TO_START_WORKERS, AnalysisPool, discard_pool, shared_pool
from monitor.analysis import analysis_processes as default_processes
from monitor.fetch import NOT_MODIFIED, FetchRequest, FetchResult, fetch_requests
from monitor.sources import Source
from monitor.pipeline.capture import (FAILED, NEW_VERSION, UNCHANGED, Capture, CaptureOutcome, log_outcome,
                                      ProgressCallback, _sha256)
from monitor.pipeline.checks import check_capture, SourceCheck
from monitor.pipeline.recorder import Recorder
from monitor.pipeline.analysis_batches import _AnalysisBatches, AnalysisStoreSpec

# Captures that wait for the recorder are stored together, one transaction (and one commit) for up to this many.
CAPTURES_PER_TRANSACTION = 50
# Bodies fetched and not yet recorded, at most (then the fetchers wait): see Backlog. 8 MiB is about 180
# pages of 46 KB, several seconds of work for the analysis processes: a larger backlog only holds memory.
MAX_BACKLOG_BYTES = 8 * 1024 * 1024


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
    """Each request fetched by the fetcher its source names (monitor.fetch.registry), the kinds side by side."""
    await fetch_requests(requests, settings, on_result, politeness=politeness, admit=admit)


def check_captures(sources: Sequence[Source], settings: Any,
                   on_check: Callable[[SourceCheck], None] | None = None) -> list[SourceCheck]:
    """Fetch each source once and check what would be extracted; stores nothing."""
    checks: dict[str, SourceCheck] = {}

    def checked(request: Any, result: FetchResult) -> None:
        checks[request.source.id] = check_capture(request.source, result)
        if on_check:
            on_check(checks[request.source.id])

    asyncio.run(_fetch_all([FetchRequest(source) for source in sources], settings, checked))
    return [checks[source.id] for source in sources]


def fetch_once(source: Source, settings: Any, path: str | Path | None = None) -> FetchResult:
    """One fetch of one source with the fetcher it names, or of the local file at `path` (no storing)."""
    results: list[FetchResult] = []
    request = FetchRequest(source, path=Path(path) if path is not None else None)
    asyncio.run(_fetch_all([request], settings, lambda request, result: results.append(result)))
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
