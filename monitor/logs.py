"""Logging: a format name in, the root logger set up for people (`human`) or log shippers (`json`, one
JSON object per line on stderr) out; and `log_capture`, the one structured record of each capture."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any
from monitor.errors import UsageError

FORMATS = ("human", "json")
LOG_FORMAT_ENV = "CLAUSEWATCH_LOG_FORMAT"
HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CAPTURE_LOGGER = "monitor.capture"

# Attributes every LogRecord has; anything else on a record came in through `extra=` and is data.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

_capture_log = logging.getLogger(CAPTURE_LOGGER)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Handler(logging.StreamHandler):
    """Ours, so configuring again (tests, several CliRunner invocations) replaces it instead of adding one."""


def configure_logging(fmt: str = "human", verbose: bool = False, stream: IO[str] | None = None) -> None:
    """Set up the root logger on stderr: INFO with `verbose`, else WARNING.

    With `json`, the per-capture records (INFO, logger `monitor.capture`) are always on: one line per
    capture is what a log shipper is there for. With `human` they show with -v (failed ones always).
    """
    if fmt not in FORMATS:
        raise UsageError(f"log format {fmt!r}: use one of {', '.join(FORMATS)} (--log-format or {LOG_FORMAT_ENV})")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(HUMAN_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    _capture_log.setLevel(logging.INFO if (verbose or fmt == "json") else logging.NOTSET)


def summarise_failed_captures() -> None:
    """For `run --once` with human logs and no -v: its summary groups the failures, so the one line per
    failed capture is left out (the daemon keeps them: its log is the only record an operator reads)."""
    if _capture_log.level == logging.NOTSET:
        _capture_log.setLevel(logging.ERROR)


def log_capture(source_id: str, outcome: str, *, attempt_outcome: str | None = None,
                attempt_id: int | None = None, http_status: int | None = None, body_bytes: int | None = None,
                fetch_ms: int | None = None, record_ms: int | None = None, version_seq: int | None = None,
                revert_of_seq: int | None = None, events: int = 0, error: str | None = None) -> None:
    """Log one capture of a source: INFO when it succeeded, WARNING when it failed.

    The fields are the CaptureOutcome's (outcome, attempt_outcome, version_seq, revert_of_seq, error,
    len(events)) with the attempt's id, HTTP status and size and the time taken to fetch and to record.
    """
    fields = {"source": source_id, "attempt_id": attempt_id, "outcome": outcome,
              "attempt_outcome": attempt_outcome or outcome, "http_status": http_status, "bytes": body_bytes,
              "fetch_ms": fetch_ms, "record_ms": record_ms, "version": version_seq, "revert_of": revert_of_seq,
              "events": events, "error": error}
    shown = " ".join(f"{key}={value}" for key, value in fields.items()
                     if value is not None and key not in ("source", "outcome", "error"))
    level = logging.WARNING if outcome == "failed" else logging.INFO
    _capture_log.log(level, "capture %s: %s %s%s", source_id, outcome, shown,
                     f" error={error!r}" if error else "", extra=fields)
