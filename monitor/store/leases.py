"""Work sharing: source ids in, claimed sources (leases with an expiry) out; and the cron lock of `run --once`.

Workers (`clausewatch worker`) share one PostgreSQL database: each claims a batch of due sources with
`SELECT ... FOR UPDATE SKIP LOCKED`, so two workers never claim the same source, and marks each one done with
its next due time. A worker that dies keeps its claims only until their lease expires; the next claim takes
them over. Every time here comes from the database's clock, so workers on machines whose clocks differ agree.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, or_, select, text, update
from sqlalchemy.orm import Session

from monitor.errors import ClauseWatchError, ExitCode, UsageError
from monitor.store.db import session_scope
from monitor.store.models import FetchAttempt, SourceSchedule
from monitor.timestamps import iso, now_iso


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, per purpose (locks are per database)."""
    return int.from_bytes(hashlib.sha256(f"clausewatch:{name}".encode()).digest()[:8], "big", signed=True)


RUN_LOCK_KEY = _lock_key("run --once")
REGISTER_LOCK_KEY = _lock_key("register sources")
# Exit code of `run --once` when another run holds the lock: the cron tick is skipped, nothing is wrong.
RUN_LOCKED_EXIT_CODE = ExitCode.RUN_LOCKED


class RunLockHeld(ClauseWatchError):
    """Another `clausewatch run --once` is still running on this database."""

    exit_code = RUN_LOCKED_EXIT_CODE


def require_postgresql(engine: Engine) -> None:
    """Workers need row locks that skip locked rows (PostgreSQL); refuse anything else with the way out."""
    if engine.dialect.name != "postgresql":
        raise UsageError(
            f"`clausewatch worker` needs PostgreSQL (workers share the database with SELECT ... FOR UPDATE "
            f"SKIP LOCKED, which {engine.dialect.name} lacks): use --db postgresql://user@host/dbname, or on "
            f"SQLite run `clausewatch run --once` from cron or `clausewatch daemon`")


# ---------------------------------------------------------------------------- cron lock


@contextmanager
def run_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's run lock for the block; raise RunLockHeld at once if another process holds it.

    PostgreSQL: a session-level `pg_try_advisory_lock` on a connection kept for the block, so every machine
    pointing at the database sees it, and the server drops it when a killed process's connection goes.
    SQLite: an exclusive `flock` on `<database file>.run-lock` beside the database; the kernel drops it when
    the process dies, even by SIGKILL, so no stale lock is ever left (a lock row would need an expiry and
    could block the next tick after a crash), and SQLite is a local file anyway, shared only on one machine.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{engine.url.database}.run-lock")):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    # AUTOCOMMIT: the lock belongs to the session, so no transaction need stay open for the whole run.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": RUN_LOCK_KEY}).scalar():
            raise RunLockHeld(f"another `clausewatch run --once` is still running on this database "
                              f"({_advisory_holder(connection)}); this run is skipped")
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK_KEY})
            except Exception:
                # never hand a connection that may still hold the lock back to the pool
                connection.invalidate()


def _advisory_holder(connection) -> str:  # type: ignore[no-untyped-def]
    """Who holds the run lock, for the message: client address and since when."""
    row = connection.execute(text(
        "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :high AND l.objid = :low"
    ), {"high": (RUN_LOCK_KEY >> 32) & 0xFFFFFFFF, "low": RUN_LOCK_KEY & 0xFFFFFFFF}).first()
    if row is None:
        return "lock held"
    since = iso(row.backend_start)
    return f"server process {row.pid}, client {row.client_addr or 'local socket'}, connected since {since}"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "lock held"
            raise RunLockHeld(f"another `clausewatch run --once` is still running on this database "
                              f"({holder}; lock file {path}); this run is skipped") from None
        stamp = now_iso()
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"process {os.getpid()} since {stamp}".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------------------- worker leases


@dataclass(frozen=True)
class Claim:
    """One source a worker now holds, until `lease_expires_at` unless renewed."""

    source_id: str
    claimed_at: dt.datetime
    # a worker that died after recording this source but before marking it done: nothing left to fetch, and
    # the outcome of the attempt it recorded (whether the source's last success is that attempt's)
    recorded_outcome: str | None = None

    @property
    def already_recorded(self) -> bool:
        return self.recorded_outcome is not None

    @property
    def recorded_success(self) -> bool:
        return self.recorded_outcome in ("ok", "not_modified")


def database_now(session: Session) -> dt.datetime:
    """The database's clock, in UTC."""
    return session.execute(select(func.now())).scalar_one().astimezone(dt.timezone.utc)


def lock_registration(session: Session) -> None:
    """Serialise start-up registration between workers (held until the transaction ends), so workers
    starting together do not trip over each other's inserts of the same `source` and schedule rows."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTER_LOCK_KEY})


def add_schedules(session: Session, source_ids: Sequence[str]) -> int:
    """Give each source a schedule row, due now, if it has none; returns how many were added."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert  # workers only: not on every cron start

    now = database_now(session)
    added = 0
    for start in range(0, len(source_ids), 1000):
        chunk = source_ids[start:start + 1000]
        statement = pg_insert(SourceSchedule).values([{"source_id": source_id, "next_due_at": now}
                                                      for source_id in chunk])
        added += session.execute(statement.on_conflict_do_nothing(index_elements=["source_id"])).rowcount or 0
    return added


def claim_due(engine: Engine, owner: str, source_ids: Sequence[str], limit: int,
              lease: dt.timedelta) -> list[Claim]:
    """Claim up to `limit` due sources among `source_ids` (oldest due first) for `owner` until now + `lease`.

    A source is claimable when it is due and no lease on it is live. Rows another worker is claiming at this
    instant are skipped, not waited for (SKIP LOCKED), so workers never block each other or double-claim.
    """
    with session_scope(engine) as session:
        now = database_now(session)
        rows = session.execute(
            select(SourceSchedule.source_id, SourceSchedule.claim_attempt_id)
            .where(SourceSchedule.source_id.in_(source_ids), SourceSchedule.next_due_at <= now,
                   or_(SourceSchedule.lease_owner.is_(None), SourceSchedule.lease_expires_at < now))
            .order_by(SourceSchedule.next_due_at).limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        watermark = session.execute(select(func.coalesce(func.max(FetchAttempt.id), 0))).scalar_one()
        # claim_attempt_id is cleared when a source is marked done: set, it is a claim that was never finished
        claims = [Claim(row.source_id, now, _outcome_recorded_since(session, row.source_id, row.claim_attempt_id))
                  for row in rows]
        session.execute(
            update(SourceSchedule).where(SourceSchedule.source_id.in_([row.source_id for row in rows]))
            .values(lease_owner=owner, lease_expires_at=now + lease, claimed_at=now, claim_attempt_id=watermark)
        )
        return claims


def _outcome_recorded_since(session: Session, source_id: str, attempt_id: int | None) -> str | None:
    """The outcome of the source's newest attempt recorded after the (expired) lease was taken, if any."""
    if attempt_id is None:
        return None
    return session.execute(select(FetchAttempt.outcome).where(FetchAttempt.source_id == source_id,
                                                              FetchAttempt.id > attempt_id)
                           .order_by(FetchAttempt.id.desc()).limit(1)).scalar_one_or_none()


def finish_claim(engine: Engine, owner: str, source_id: str, next_due_at: dt.datetime,
                 succeeded: bool | None) -> bool:
    """Mark a claimed source done until `next_due_at` and drop the lease; False if the lease was lost.

    `succeeded` sets `last_success_at` (None: unknown, leave it)."""
    values: dict = {"next_due_at": next_due_at, "lease_owner": None, "lease_expires_at": None,
                    "claim_attempt_id": None}
    if succeeded:
        values["last_success_at"] = func.timezone("UTC", func.now())
    with session_scope(engine) as session:
        result = session.execute(update(SourceSchedule).where(SourceSchedule.source_id == source_id,
                                                              SourceSchedule.lease_owner == owner).values(**values))
        return result.rowcount == 1


def renew_leases(engine: Engine, owner: str, lease: dt.timedelta) -> int:
    """Push the expiry of every lease `owner` holds to now + `lease`; returns how many it holds."""
    with session_scope(engine) as session:
        expires = database_now(session) + lease
        return session.execute(update(SourceSchedule).where(SourceSchedule.lease_owner == owner)
                               .values(lease_expires_at=expires)).rowcount


def release_leases(engine: Engine, owner: str) -> int:
    """Give back every source `owner` holds, still due, so another worker takes it at once.

    `claim_attempt_id` stays: a capture recorded just after the release is still recognised by the next claim.
    """
    with session_scope(engine) as session:
        return session.execute(update(SourceSchedule).where(SourceSchedule.lease_owner == owner)
                               .values(lease_owner=None, lease_expires_at=None)).rowcount


def pending_sources(engine: Engine, source_ids: Sequence[str]) -> int:
    """How many of these sources are due now or held by some worker (0: the cycle is over)."""
    with session_scope(engine) as session:
        now = database_now(session)
        return session.execute(
            select(func.count()).select_from(SourceSchedule)
            .where(SourceSchedule.source_id.in_(source_ids),
                   or_(SourceSchedule.next_due_at <= now, SourceSchedule.lease_owner.is_not(None)))
        ).scalar_one()


def make_due(engine: Engine, source_ids: Sequence[str] | None = None) -> int:
    """Make sources due now (all of them by default): a new cycle at once, for benchmarks and tests."""
    with session_scope(engine) as session:
        statement = update(SourceSchedule).values(next_due_at=func.timezone("UTC", func.now()))
        if source_ids is not None:
            statement = statement.where(SourceSchedule.source_id.in_(source_ids))
        return session.execute(statement).rowcount
