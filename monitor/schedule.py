"""Scheduler: sources in, one crawl job per source on its own schedule (APScheduler), until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.sources import Source, parse_interval

log = logging.getLogger(__name__)

# Jitter spreads sources that share a schedule, so they do not all hit the network at once.
MAX_JITTER_SECONDS = 300


def trigger_for(source: Source) -> IntervalTrigger | CronTrigger:
    interval = parse_interval(source.schedule)
    if interval is not None:
        jitter = int(min(MAX_JITTER_SECONDS, interval.total_seconds() / 10))
        return IntervalTrigger(seconds=int(interval.total_seconds()), jitter=jitter or None)
    return CronTrigger.from_crontab(source.schedule, timezone="UTC")


def run_daemon(sources: Sequence[Source], run_source: Callable[[Source], None],
               stop: threading.Event | None = None, run_first: bool = True) -> None:
    """Run each source on its schedule until SIGTERM/SIGINT (or `stop` is set).

    One job per source with max_instances=1: a slow fetch and the next tick never overlap.
    On stop, fetches in flight finish before this returns; runs still queued (at start every source's first
    run is queued at once) are dropped, so SIGTERM does not wait for a whole registry to be fetched.
    """
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                  "misfire_grace_time": 3600})
    for source in sources:
        if not source.enabled:
            continue
        scheduler.add_job(_guarded(run_source, source, stop), trigger_for(source), id=source.id, name=source.id)
        if run_first:
            scheduler.add_job(_guarded(run_source, source, stop), id=f"{source.id}:first", name=source.id)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler.start()
    log.info("daemon started with %d sources", len(scheduler.get_jobs()))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("daemon stopped")


def _guarded(run_source: Callable[[Source], None], source: Source, stop: threading.Event) -> Callable[[], None]:
    def job() -> None:
        if stop.is_set():  # queued before the stop: the shutdown waits for it, so it must return at once
            return
        try:
            run_source(source)
        except Exception:  # one source's failure must not stop the daemon
            log.exception("run of source %s failed", source.id)

    return job
