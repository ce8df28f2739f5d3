"""What a capture is and what recording it gave: `Capture`, `CaptureOutcome`, the outcomes, and the
latest version a recorder keeps in memory (`LatestVersion`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from monitor.analysis import Analysis
from monitor.clauses import Clause
from monitor.fetch import FetchResult
from monitor.logs import log_capture
from monitor.sources import Source


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


@dataclass(frozen=True)
class LatestVersion:
    """A source's newest version (or the one a new text is compared with) as plain values; a recorder keeps
    one per source in memory between captures."""

    version_id: int
    seq: int
    text: str
    text_sha256: str
    clauses: tuple[Clause, ...] | None = None  # None until a comparison needs them
    language: str | None = None
    extraction: str | None = None  # Document.method of its text, None if unknown


def log_outcome(source: Source, result: FetchResult, outcome: CaptureOutcome) -> None:
    log_capture(source.id, outcome.outcome, attempt_outcome=outcome.attempt_outcome, attempt_id=outcome.attempt_id,
                http_status=result.http_status, body_bytes=len(result.body), fetch_ms=result.elapsed_ms,
                record_ms=outcome.record_ms, version_seq=outcome.version_seq, revert_of_seq=outcome.revert_of_seq,
                events=len(outcome.events), error=outcome.error)


def _with_notices(outcome: CaptureOutcome, notices: list[dict]) -> CaptureOutcome:
    return replace(outcome, notices=notices + outcome.notices) if notices else outcome


ProgressCallback = Callable[[Source, CaptureOutcome], None]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
