"""Captures that are not fetched by a cycle: a local file (`ingest_file`), a stored snapshot extracted again
(`reextract_source`)."""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from monitor.alerts import send_alerts
from monitor.fetch import OK, FetchResult, read_file
from monitor.sources import Source
from monitor.store import FetchAttempt, Snapshot, session_scope
from monitor.pipeline.capture import Capture, CaptureOutcome
from monitor.pipeline.recorder import Recorder
from monitor.pipeline.cycle import deliver_notifications


def ingest_file(recorder: Recorder, source: Source, path: str, at: dt.datetime | None = None,
                notifiers: Sequence[Any] = ()) -> CaptureOutcome:
    """Record a local file as a fetch of `source` at time `at` (now by default): the same path as `run`."""
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
