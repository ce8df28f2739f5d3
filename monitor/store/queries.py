"""Read-side queries for the command line: the database in, plain dicts out (what `clauses`, `changes`, `history`
and `diff` print), built on the store's read API (`monitor.store.history`), which the site uses too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import UsageError
from monitor.store.history import events, require_source, version_as_of
from monitor.store.history import require_clause  # noqa: F401 (the commands import it from here)
from monitor.store.models import ChangeEvent, FetchAttempt, SourceRow, Version
from monitor.store.payloads import clause_payload
from monitor.timestamps import iso


def list_clauses(session: Session, source_id: str | None = None, category: str | None = None,
                 at: dt.datetime | None = None, watched_only: bool = True) -> list[dict[str, Any]]:
    """Clauses of each source's latest version (or the version in force at `at`)."""
    if source_id:
        sources = [require_source(session, source_id)]
    else:
        sources = list(session.execute(select(SourceRow).order_by(SourceRow.id)).scalars())
    out = []
    for source in sources:
        version = version_as_of(session, source.id, at)
        if version is None:
            continue
        for clause in version.clauses:
            if watched_only and not clause.categories:
                continue
            if category and category not in clause.categories:
                continue
            out.append(clause_payload(clause, source, version))
    return out


def list_changes(session: Session, since: dt.datetime | None = None, direction: str | None = None,
                 source_id: str | None = None, key: str | None = None) -> list[dict[str, Any]]:
    """Clause change events, oldest first (the site's `history.events`, for one source when given)."""
    if source_id:
        require_source(session, source_id)
    return events(session, source_id=source_id, key=key, direction=direction, since=since)


def list_versions(session: Session, source_id: str) -> list[dict[str, Any]]:
    """A source's versions, oldest first, with how many clause events and alerts each made."""
    require_source(session, source_id)
    counts = dict(session.execute(
        select(ChangeEvent.version_id, func.count()).where(ChangeEvent.source_id == source_id)
        .group_by(ChangeEvent.version_id)).all())
    alerts = dict(session.execute(
        select(ChangeEvent.version_id, func.count()).where(ChangeEvent.source_id == source_id,
                                                          ChangeEvent.alert.is_(True))
        .group_by(ChangeEvent.version_id)).all())
    rows = session.execute(select(Version.id, Version.seq, Version.observed_at, Version.text_sha256,
                                  Version.revert_of_seq, Version.technical, func.length(Version.text))
                           .where(Version.source_id == source_id).order_by(Version.seq))
    return [{"seq": r.seq, "observed_at": iso(r.observed_at), "text_sha256": r.text_sha256,
             "length": r[6], "events": counts.get(r.id, 0), "alerts": alerts.get(r.id, 0),
             "revert_of": r.revert_of_seq, "technical": r.technical} for r in rows]


def get_version(session: Session, source_id: str, seq: int) -> Version:
    version = session.execute(select(Version).where(Version.source_id == source_id, Version.seq == seq)
                              ).scalar_one_or_none()
    if version is None:
        raise UsageError(f"source {source_id!r} has no version {seq}")
    return version


def attempt_counts(session: Session, source_id: str) -> dict[str, int]:
    return dict(session.execute(select(FetchAttempt.outcome, func.count())
                                .where(FetchAttempt.source_id == source_id)
                                .group_by(FetchAttempt.outcome)).all())
