"""Retention: a cut-off time in, old fetch attempts deleted (or counted, dry run), a `PruneReport` out.

Only `fetch_attempt` rows are ever pruned. Kept whatever their age:
- the first attempt of each version (the one that made it, and the earliest that fetched it): the
  evidence of when each version was fetched, which the history site shows;
- the newest attempt of each source: when it was last checked and how that went.
So what goes is the bulk: unchanged, not-modified and failed fetches that are not a source's newest.
Sources, snapshots, versions, clauses, change events and notifications are kept forever. A snapshot
whose only attempts are pruned is kept too: it stays the raw evidence of its versions, and storage
grows with distinct bodies, not with fetches, so keeping it costs little.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.durations import parse_duration
from monitor.store.db import session_scope
from monitor.store.models import FetchAttempt, PrunedAttempts

_BATCH = 5000


@dataclass(frozen=True)
class PruneReport:
    cutoff: dt.datetime
    dry_run: bool
    deleted: int  # attempts deleted, or that would be with dry_run
    by_outcome: dict[str, int] = field(default_factory=dict)
    kept_old: int = 0  # attempts older than the cut-off kept: a version's first, or a source's newest

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        detail = ", ".join(f"{outcome} {count}" for outcome, count in sorted(self.by_outcome.items()))
        return (f"{verb} {self.deleted} fetch attempts older than {self.cutoff:%Y-%m-%dT%H:%M:%SZ}"
                + (f" ({detail})" if detail else "")
                + f"; kept {self.kept_old} older ones (a version's first fetch or a source's newest); "
                  "versions, snapshots, clauses and events are never pruned")


def _prunable(cutoff: dt.datetime):  # type: ignore[no-untyped-def]
    other = aliased(FetchAttempt)
    newest = select(func.max(other.id)).group_by(other.source_id)
    made_version = select(func.min(other.id)).where(other.version_id.is_not(None)).group_by(other.version_id)
    earliest_of_version = (select(func.min(other.started_at)).where(other.version_id == FetchAttempt.version_id)
                           .scalar_subquery())
    return (FetchAttempt.started_at < cutoff, FetchAttempt.id.not_in(newest), FetchAttempt.id.not_in(made_version),
            or_(FetchAttempt.version_id.is_(None), FetchAttempt.started_at > earliest_of_version))


def prune_attempts(engine: Engine, cutoff: dt.datetime, *, dry_run: bool = False) -> PruneReport:
    """Delete the fetch attempts started before `cutoff`, but for each version's first and each source's newest."""
    if cutoff.tzinfo is None:
        raise ValueError("cutoff must be timezone-aware")
    conditions = _prunable(cutoff)
    with session_scope(engine) as session:
        by_outcome = dict(session.execute(
            select(FetchAttempt.outcome, func.count()).where(*conditions).group_by(FetchAttempt.outcome)).all())
        old = session.scalar(select(func.count()).select_from(FetchAttempt).where(FetchAttempt.started_at < cutoff))
    deleted = sum(by_outcome.values())
    if not dry_run:
        deleted = 0
        # In batches, each its own transaction, so a large first prune never holds a long lock.
        while True:
            with session_scope(engine) as session:
                rows = session.execute(select(FetchAttempt.id, FetchAttempt.outcome).where(*conditions)
                                       .limit(_BATCH)).all()
                if not rows:
                    break
                session.execute(delete(FetchAttempt).where(FetchAttempt.id.in_([row.id for row in rows])))
                _tally(session, Counter(row.outcome for row in rows))
                deleted += len(rows)
    return PruneReport(cutoff, dry_run, deleted, by_outcome, (old or 0) - sum(by_outcome.values()))


def _tally(session: Session, deleted: Counter[str]) -> None:
    """Add what was deleted to the pruned totals, in the deleting transaction (so /metrics never counts down)."""
    for outcome, count in deleted.items():
        row = session.get(PrunedAttempts, outcome, with_for_update=True)
        if row is None:
            session.add(PrunedAttempts(outcome=outcome, count=count))
        else:
            row.count += count


def parse_age(text: str) -> dt.timedelta:
    """'90d', '12w', '36h' -> timedelta. The unit is required: a bare number would be seconds in the one
    duration grammar, and `prune --attempts-older-than 90` would delete nearly every attempt."""
    return parse_duration(text, require_unit=True, positive=True)
