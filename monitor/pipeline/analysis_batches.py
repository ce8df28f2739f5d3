"""New bodies sent to the analysis processes a few at a time; each process analyses and stores its batch, with
a recorder it keeps from batch to batch."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

from monitor.analysis import AnalysisPool, analyse_body
from monitor.fetch import FetchResult
from monitor.sources import Source
from monitor.store import connect
from monitor.pipeline.capture import Capture, CaptureOutcome
from monitor.pipeline.rows import latest_text_hashes
from monitor.pipeline.recorder import Recorder

# New bodies go to a worker process this many at a time (stored in one transaction), or fewer when the first
# has waited this long.
ANALYSIS_BATCH = 8
BATCH_WAIT_SECONDS = 0.02


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
    recorder = analysis_recorder(spec)
    latest = latest_text_hashes(recorder.engine, [source.id for source, _ in captures])
    return recorder._store([Capture(source, result, analysis=analyse_body(result.body, result.content_type, source,
                                                                          *latest.get(source.id, (None, None))))
                            for source, result in captures])


# A worker's recorders, by database URL, the last few used: each stays warm from batch to batch (and cycle to
# cycle), with its cache of the latest versions of at most ANALYSIS_CACHED_SOURCES sources. A cached version
# costs a worker about 100 KB (its text), and a cycle fetches each source once, so only a later cycle finds
# it: a few dozen per worker (bench/cycle_cli.py: 32 add 9 MB to the peak RSS of 200 pages, 256 add 22 MB).
# A worker keeps SQLite connections (opening one costs more than a capture's queries) but no connection to a
# server, which could not drop a database while a worker holds it open.
_analysis_recorders: dict[str, Recorder] = {}
ANALYSIS_DATABASES = 4
ANALYSIS_CACHED_SOURCES = 32


def analysis_recorder(spec: AnalysisStoreSpec) -> Recorder:
    """This worker's recorder of the spec's database, with the spec's settings."""
    recorder = _analysis_recorders.pop(spec.database_url, None)  # put back last: the most recently used
    if recorder is None:
        while len(_analysis_recorders) >= ANALYSIS_DATABASES:
            _analysis_recorders.pop(next(iter(_analysis_recorders))).engine.dispose()
        engine = connect(spec.database_url, keep_connections=spec.database_url.startswith("sqlite"))
        recorder = Recorder(engine, cache_sources=ANALYSIS_CACHED_SOURCES)
    # the settings of the run that sent this batch; the cache does not depend on them
    recorder.revert_window, recorder.failing_after, recorder.alerts = spec.revert_window, spec.failing_after, spec.alerts
    _analysis_recorders[spec.database_url] = recorder
    return recorder
