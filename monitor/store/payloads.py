"""Stored rows in, their JSON forms out: change events, clauses and source notices, as alerts, `--json` and
exports show them. The store's readers and the recorder both build them here, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from monitor.store.models import ChangeEvent, ClauseRow, SourceRow, Version
from monitor.timestamps import iso, now_iso

# A source failing this many captures in a row is "failing": a notice goes out, and health degrades.
FAILING_AFTER = 3


class EventPayload(TypedDict):
    id: int
    source: str
    provider: str
    title: str
    url: str
    version: int
    observed_at: str
    key: str
    path: str | None
    kind: str
    categories: list[str]
    direction: str
    reason: str
    before: str | None
    after: str | None
    diff: list[list[Any]]
    alert: bool


class SourceNotice(TypedDict, total=False):
    type: str  # source_failing, source_recovered, selector_drift or selector_recovered
    source: str
    provider: str
    title: str
    url: str
    failures_in_a_row: int
    at: str
    failure: str
    error: str


@dataclass(frozen=True)
class RecordedVersion:
    """A new version as the recorder has just written it (rows of the caller's session) and the JSON form of
    each of its change events, in id order: what the outbox queues notifications from, reading nothing back."""

    source: SourceRow
    version: Version
    snapshot_sha256: str | None
    events: list[EventPayload]


def event_payload(event: ChangeEvent, source: SourceRow, version: Version) -> EventPayload:
    """The JSON form of a change event."""
    return {
        "id": event.id,
        "source": source.id,
        "provider": source.provider,
        "title": source.title,
        "url": source.url,
        "version": version.seq,
        "observed_at": iso(version.observed_at),
        "key": event.key,
        "path": event.path,
        "kind": event.kind,
        "categories": list(event.categories),
        "direction": event.direction,
        "reason": event.reason,
        "before": event.before,
        "after": event.after,
        "diff": [list(op) for op in event.diff],
        "alert": event.alert,
    }


def clause_payload(clause: ClauseRow, source: SourceRow, version: Version) -> dict[str, Any]:
    """The JSON form of a clause of a version."""
    return {
        "source": source.id, "provider": source.provider, "title": source.title, "version": version.seq,
        "observed_at": iso(version.observed_at), "key": clause.key, "path": clause.path,
        "heading": clause.heading, "text": clause.text, "categories": list(clause.categories),
        "rules": list(clause.rules), "features": clause.features or {},
    }


def source_notice(kind: str, source: SourceRow, failure: str | None = None, error: str | None = None,
                  failures_in_a_row: int | None = None) -> SourceNotice:
    """An operators' notice: a source has failed several captures in a row, or has recovered; its selectors
    stopped matching (`error` says how), or match again. `failures_in_a_row` defaults to the source row's."""
    streak = source.failures_in_a_row if failures_in_a_row is None else failures_in_a_row
    notice: SourceNotice = {"type": kind, "source": source.id, "provider": source.provider, "title": source.title,
                            "url": source.url, "failures_in_a_row": streak, "at": now_iso()}
    if failure:
        notice.update(failure=failure, error=error or "")
    elif error:
        notice["error"] = error
    return notice
