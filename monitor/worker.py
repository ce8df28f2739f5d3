"""Worker: sources and a PostgreSQL engine in; due sources claimed in batches, run through the pipeline and
marked done with their next due time, until SIGTERM. Run as many workers, on as many machines, as you like.

A claim is a lease with an expiry, renewed while the worker lives; a worker killed mid-fetch loses its sources
only until the lease expires, then another worker takes them. A worker that recorded a source but died before
marking it done is recognised (an attempt newer than the claim), so the source is not fetched twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from monitor.pipeline import (FAILED, LONG_RUNNING_CACHED_SOURCES, CaptureOutcome, CycleSummary, Recorder, run_cycle,
                              upsert_sources)
from monitor.sources import Source, parse_interval
from monitor.store import session_scope
from monitor.store import leases

log = logging.getLogger(__name__)

# As the daemon: jitter spreads sources that share a schedule over up to a tenth of the interval, at most 5 min.
MAX_JITTER_SECONDS = 300


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker claims work."""

    batch: int = 50  # sources claimed (and fetched concurrently) at once
    lease: dt.timedelta = dt.timedelta(minutes=5)  # how long a claim lasts unless renewed
    poll: float = 15.0  # seconds between looks for due sources when none is due
    until_idle: bool = False  # exit when no source is due or held by any worker
    name: str | None = None  # defaults to host:pid:random


@dataclass
class WorkerStats:
    """What a worker did, for its closing line."""

    name: str
    batches: int = 0
    summary: CycleSummary = field(default_factory=CycleSummary)
    lost_leases: int = 0
    taken_over: int = 0  # claims of a dead worker whose capture was already recorded

    def line(self) -> str:
        return f"worker {self.name}: {self.batches} batches; {self.summary.line()}"


class WorkerStopped(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT while a batch is being fetched, to stop it short."""


def is_stop(error: BaseException) -> bool:
    """A stop signal, also when it struck inside a task group of the fetcher and came back wrapped in a group."""
    if isinstance(error, BaseExceptionGroup):
        return error.split(WorkerStopped)[1] is None
    return isinstance(error, WorkerStopped)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def next_due_at(source: Source, after: dt.datetime) -> dt.datetime:
    """When `source` is next due after a run that started at `after`: its interval (with jitter) or cron."""
    interval = parse_interval(source.schedule)
    if interval is not None:
        jitter = min(MAX_JITTER_SECONDS, interval.total_seconds() / 10)
        return after + interval + dt.timedelta(seconds=random.uniform(0, jitter))

    return CronTrigger.from_crontab(source.schedule, timezone="UTC").get_next_fire_time(None, after)


def register_sources(engine: Engine, sources: Sequence[Source]) -> int:
    """Bring the `source` rows up to date with sources.yaml and give new sources a schedule (due now)."""
    with session_scope(engine) as session:
        leases.lock_registration(session)
        upsert_sources(session, sources)
        return leases.add_schedules(session, [source.id for source in sources if source.enabled])


def run_worker(engine: Engine, sources: Sequence[Source], fetch_settings: Any, notifiers: Sequence[Any] = (),
               settings: WorkerSettings = WorkerSettings(), recorder: Recorder | None = None,
               stop: threading.Event | None = None,
               on_progress: Callable[[Source, CaptureOutcome], None] | None = None) -> WorkerStats:
    """Claim due sources, fetch and record them, mark them done; until SIGTERM/SIGINT, `stop`, or idle.

    SIGTERM (or Ctrl-C) during a batch stops its fetches; what was fetched is recorded, and the sources not
    done are released at once for other workers.
    """
    leases.require_postgresql(engine)
    recorder = recorder or Recorder(engine, cache_sources=LONG_RUNNING_CACHED_SOURCES)
    stop = stop or threading.Event()
    by_id = {source.id: source for source in sources if source.enabled}
    ids = list(by_id)
    stats = WorkerStats(settings.name or worker_name())
    owner = stats.name
    added = register_sources(engine, list(sources))
    log.info("worker %s: %d sources (%d new to the schedule)", owner, len(ids), added)

    fetching = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        if fetching.is_set():
            fetching.clear()  # raise once; a second signal while unwinding only sets stop
            raise WorkerStopped()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    heartbeat = threading.Thread(target=_renew_leases, args=(engine, owner, settings.lease, stop), daemon=True,
                                 name="lease-renewal")
    heartbeat.start()
    try:
        while not stop.is_set():
            claims = _claim(engine, owner, ids, settings)
            if not claims:
                if settings.until_idle and leases.pending_sources(engine, ids) == 0:
                    break
                stop.wait(settings.poll)
                continue
            stats.batches += 1
            _run_batch(engine, recorder, owner, claims, by_id, fetch_settings, notifiers, stats, fetching,
                       on_progress)
    except BaseException as error:
        if not is_stop(error):
            raise
        log.info("worker %s: stopped during a batch", owner)
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        released = _release(engine, owner)
        if released:
            log.info("worker %s: released %d sources for other workers", owner, released)
    return stats


def _claim(engine: Engine, owner: str, ids: list[str], settings: WorkerSettings) -> list[leases.Claim]:
    try:
        return leases.claim_due(engine, owner, ids, settings.batch, settings.lease)
    except OperationalError as error:  # the database is away for a moment: try again on the next poll
        log.warning("worker %s: cannot claim sources: %s", owner, " ".join(str(error.orig).split()))
        return []


def _run_batch(engine: Engine, recorder: Recorder, owner: str, claims: list[leases.Claim], by_id: dict[str, Source],
               fetch_settings: Any, notifiers: Sequence[Any], stats: WorkerStats, fetching: threading.Event,
               on_progress: Callable[[Source, CaptureOutcome], None] | None) -> None:
    claimed_at = {claim.source_id: claim.claimed_at for claim in claims}

    def finish(source: Source, succeeded: bool | None) -> None:
        try:
            if not leases.finish_claim(engine, owner, source.id, next_due_at(source, claimed_at[source.id]),
                                       succeeded):
                stats.lost_leases += 1
                log.warning("worker %s: the lease on %s expired before it was done", owner, source.id)
        except Exception:  # the lease expires and the capture is recognised as recorded: nothing is lost
            log.exception("worker %s: cannot mark %s done", owner, source.id)

    for claim in claims:
        if claim.already_recorded:  # the dead worker's capture counts, success or not
            stats.taken_over += 1
            finish(by_id[claim.source_id], claim.recorded_success)

    def progress(source: Source, outcome: CaptureOutcome) -> None:
        finish(source, outcome.outcome != FAILED)
        if on_progress:
            on_progress(source, outcome)

    to_fetch = [by_id[claim.source_id] for claim in claims if not claim.already_recorded]
    if not to_fetch:
        return
    fetching.set()
    try:
        summary = run_cycle(recorder, to_fetch, fetch_settings, notifiers, on_progress=progress)
    finally:
        fetching.clear()
    for outcome in summary.outcomes:
        stats.summary.add(outcome)
    stats.summary.alert_failures += summary.alert_failures
    for failure in summary.alert_failures:
        log.warning("alert channel failed: %s", failure)
    log.info("worker %s: batch of %d: %s", owner, len(to_fetch), summary.line())


def _renew_leases(engine: Engine, owner: str, lease: dt.timedelta, stop: threading.Event) -> None:
    """Renew this worker's leases every third of the lease, so a live worker never loses them."""
    while not stop.wait(lease.total_seconds() / 3):
        try:
            leases.renew_leases(engine, owner, lease)
        except Exception as error:  # noqa: BLE001 - keep trying; an expired lease only costs a re-fetch
            log.warning("worker %s: cannot renew leases: %s", owner, error)


def _release(engine: Engine, owner: str) -> int:
    try:
        return leases.release_leases(engine, owner)
    except Exception as error:  # noqa: BLE001 - the leases expire on their own
        log.warning("worker %s: cannot release leases (they expire on their own): %s", owner, error)
        return 0
