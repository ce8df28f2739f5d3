"""Health and metrics: an engine in; a `HealthReport` (ok / degraded / unhealthy) and Prometheus metrics out.

What `clausewatch health`, `/healthz` and `/metrics` show. Every figure is read from the database, so any
process (a worker, cron's `run --once`, the web app) reports the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import ExitCode
from monitor.store.db import session_scope
from monitor.store.models import ChangeEvent, FetchAttempt, PrunedAttempts, SourceRow, SourceSchedule, Version
from monitor.store.payloads import FAILING_AFTER
from monitor.timestamps import iso
from monitor.directions import DIRECTIONS
from monitor.fetch import FAILURE_KINDS
from monitor.store.db import current_revision, head_revision

OK, DEGRADED, UNHEALTHY = "ok", "degraded", "unhealthy"
# `clausewatch health` exits with these: 0 and 1 as Nagios' OK and WARNING; unhealthy has a code of its own,
# since 2 is every command's usage error.
EXIT_CODES = {OK: ExitCode.OK, DEGRADED: ExitCode.PROBLEM, UNHEALTHY: ExitCode.UNHEALTHY}
_RANK = {OK: 0, DEGRADED: 1, UNHEALTHY: 2}

SUCCESS_OUTCOMES = ("ok", "not_modified")
# A source whose schedule says due this long ago, and that no worker holds, means the workers are behind.
OVERDUE_AFTER = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: str
    detail: str


@dataclass
class HealthReport:
    """What is wrong, if anything; `status` is the worst of the checks."""

    checked_at: dt.datetime
    checks: list[HealthCheck] = field(default_factory=list)
    database: bool = False
    schema: str | None = None
    sources: int = 0
    last_success_at: dt.datetime | None = None
    failing_sources: list[dict[str, Any]] = field(default_factory=list)  # the worst 100
    failing_count: int = 0
    overdue_sources: int = 0

    @property
    def status(self) -> str:
        return max((check.status for check in self.checks), key=_RANK.__getitem__, default=OK)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def last_success_age(self) -> float | None:
        if self.last_success_at is None:
            return None
        return max(0.0, (self.checked_at - self.last_success_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `health --json` and `/healthz`."""
        return {
            "status": self.status,
            "checked_at": iso(self.checked_at),
            "database": self.database,
            "schema": self.schema,
            "sources": self.sources,
            "last_success_at": iso(self.last_success_at) if self.last_success_at else None,
            "last_success_age_seconds": round(self.last_success_age) if self.last_success_age is not None else None,
            "failing_count": self.failing_count,
            "failing_sources": self.failing_sources,
            "overdue_sources": self.overdue_sources,
            "checks": [asdict(check) for check in self.checks],
        }


def check_health(engine: Engine, *, max_age: dt.timedelta = dt.timedelta(days=1),
                 failing_after: int = FAILING_AFTER, now: dt.datetime | None = None) -> HealthReport:
    """Database reachable and up to date (else unhealthy); a successful fetch within `max_age` (else
    unhealthy); no enabled source failing `failing_after` captures in a row and none overdue (else degraded)."""
    report = HealthReport(checked_at=now or dt.datetime.now(dt.timezone.utc))
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:") \
            and not Path(engine.url.database).exists():  # do not create an empty file by looking
        report.checks.append(HealthCheck("database", UNHEALTHY, f"no database at {engine.url.database}: "
                                                                f"run `clausewatch init`"))
        return report
    try:
        report.schema = current_revision(engine)
        report.database = True
        head = head_revision(engine)
        if report.schema != head:
            report.checks.append(HealthCheck("database", UNHEALTHY, f"schema {report.schema or 'none'} is not "
                                             f"the newest ({head}): run `clausewatch init`"))
            return report
        report.checks.append(HealthCheck("database", OK, f"reachable, schema {head}"))
        with session_scope(engine) as session:
            report.sources = session.execute(select(func.count()).select_from(SourceRow)
                                             .where(SourceRow.enabled)).scalar_one()
            report.last_success_at = _last_success_at(session)
            report.failing_sources = [
                {"source": row.id, "failures_in_a_row": row.failures_in_a_row, "last_outcome": row.outcome,
                 "last_error": row.error}
                for row in _failing_sources(session, failing_after)
            ]
            report.failing_count = session.execute(
                select(func.count()).select_from(SourceRow)
                .where(SourceRow.enabled, SourceRow.failures_in_a_row >= failing_after)).scalar_one()
            report.overdue_sources = session.execute(
                select(func.count()).select_from(SourceSchedule).join(SourceRow)
                .where(SourceRow.enabled, SourceSchedule.next_due_at < report.checked_at - OVERDUE_AFTER,
                       SourceSchedule.lease_owner.is_(None))
            ).scalar_one()
    except SQLAlchemyError as error:
        detail = " ".join(str(getattr(error, "orig", None) or error).split())
        report.database = False
        report.checks = [HealthCheck("database", UNHEALTHY, f"cannot reach the database: {detail}")]
        return report

    report.checks.append(_freshness(report, max_age))
    if report.failing_count:
        names = ", ".join(item["source"] for item in report.failing_sources[:10])
        more = f" and {report.failing_count - 10} more" if report.failing_count > 10 else ""
        report.checks.append(HealthCheck("sources", DEGRADED, f"{report.failing_count} of {report.sources} "
                                         f"sources failing {failing_after}+ captures in a row: {names}{more}"))
    else:
        report.checks.append(HealthCheck("sources", OK, f"{report.sources} sources, none failing"))
    if report.overdue_sources:
        report.checks.append(HealthCheck("schedule", DEGRADED, f"{report.overdue_sources} sources overdue by more "
                                         f"than {_duration(OVERDUE_AFTER)} and held by no worker: "
                                         f"are the workers running?"))
    return report


def _freshness(report: HealthReport, max_age: dt.timedelta) -> HealthCheck:
    if report.last_success_at is None:
        return HealthCheck("last_success", UNHEALTHY if report.sources else OK,
                           "no successful fetch yet" if report.sources else "no sources yet")
    age = report.checked_at - report.last_success_at
    if age > max_age:
        return HealthCheck("last_success", UNHEALTHY, f"last successful fetch {_duration(age)} ago, "
                                                      f"over the limit of {_duration(max_age)}")
    return HealthCheck("last_success", OK, f"last successful fetch {_duration(age)} ago")


def _last_success_at(session: Any) -> dt.datetime | None:
    # by time, not by id: `import` inserts old attempts after new ones. Newest first on the started_at index,
    # so it stops at the first success instead of scanning every attempt.
    return session.execute(select(FetchAttempt.started_at).where(FetchAttempt.outcome.in_(SUCCESS_OUTCOMES))
                           .order_by(FetchAttempt.started_at.desc()).limit(1)).scalar_one_or_none()


def _failing_sources(session: Any, failing_after: int, limit: int = 100) -> list[Any]:
    """The failing sources (worst first) with their newest attempt's outcome and error (one indexed look-up
    each, so the cost does not grow with the history)."""
    newest = (select(FetchAttempt.id).where(FetchAttempt.source_id == SourceRow.id)
              .order_by(FetchAttempt.id.desc()).limit(1).correlate(SourceRow).scalar_subquery())
    return session.execute(
        select(SourceRow.id, SourceRow.failures_in_a_row, FetchAttempt.outcome, FetchAttempt.error)
        .outerjoin(FetchAttempt, FetchAttempt.id == newest)
        .where(SourceRow.enabled, SourceRow.failures_in_a_row >= failing_after)
        .order_by(SourceRow.failures_in_a_row.desc(), SourceRow.id).limit(limit)
    ).all()


# ---------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    """One metric family of the Prometheus text format: name, type, help, and (labels, value) samples."""

    name: str
    type: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]]


def collect_metrics(engine: Engine, now: dt.datetime | None = None) -> list[Metric]:
    """Every metric `/metrics` exposes, read from the database; only `clausewatch_up 0` when it is away."""
    now = now or dt.datetime.now(dt.timezone.utc)
    up = Metric("clausewatch_up", "gauge", "1 if the database answered this scrape, else 0.", [({}, 0)])
    try:
        with session_scope(engine) as session:
            attempts = Counter(dict(session.execute(select(FetchAttempt.outcome, func.count())
                                                    .group_by(FetchAttempt.outcome)).all()))
            attempts.update(dict(session.execute(select(PrunedAttempts.outcome, PrunedAttempts.count)).all()))
            directions = dict(session.execute(select(ChangeEvent.direction, func.count())
                                              .group_by(ChangeEvent.direction)).all())
            versions = session.execute(select(func.count()).select_from(Version)).scalar_one()
            sources = session.execute(select(func.count()).select_from(SourceRow).where(SourceRow.enabled)).scalar_one()
            failing = session.execute(select(func.count()).select_from(SourceRow)
                                      .where(SourceRow.enabled, SourceRow.failures_in_a_row >= FAILING_AFTER)).scalar_one()
            last_success = _last_success_at(session)
            schedule = session.execute(select(
                func.count().filter(SourceSchedule.next_due_at <= now, SourceSchedule.lease_owner.is_(None)),
                func.count().filter(SourceSchedule.lease_owner.is_not(None), SourceSchedule.lease_expires_at >= now),
                func.count().filter(SourceSchedule.lease_owner.is_not(None), SourceSchedule.lease_expires_at < now),
            )).one()
    except SQLAlchemyError:
        return [up]
    up = Metric(up.name, up.type, up.help, [({}, 1)])
    outcomes = ["ok", "not_modified", *FAILURE_KINDS]
    outcomes += sorted(set(attempts) - set(outcomes))
    metrics = [
        up,
        Metric("clausewatch_fetch_attempts_total", "counter",
               "Fetch attempts recorded, by outcome (those `prune` deleted included).",
               [({"outcome": outcome}, attempts.get(outcome, 0)) for outcome in outcomes]),
        Metric("clausewatch_sources", "gauge", "Enabled sources.", [({}, sources)]),
        Metric("clausewatch_sources_failing", "gauge",
               f"Enabled sources whose last {FAILING_AFTER} or more captures failed in a row.", [({}, failing)]),
        Metric("clausewatch_versions_total", "counter", "Distinct document versions recorded.", [({}, versions)]),
        Metric("clausewatch_change_events_total", "counter", "Clause change events, by direction.",
               [({"direction": direction}, directions.get(direction, 0))
                for direction in [*DIRECTIONS, *sorted(set(directions) - set(DIRECTIONS))]]),
        Metric("clausewatch_worker_sources", "gauge",
               "Sources in the workers' schedule: due and unclaimed, leased, or held by an expired lease.",
               [({"state": "due"}, schedule[0]), ({"state": "leased"}, schedule[1]),
                ({"state": "lease_expired"}, schedule[2])]),
    ]
    if last_success is not None:
        metrics += [
            Metric("clausewatch_last_success_timestamp_seconds", "gauge",
                   "Unix time of the newest successful fetch (ok or not modified).", [({}, last_success.timestamp())]),
            Metric("clausewatch_last_success_age_seconds", "gauge",
                   "Seconds since the newest successful fetch (ok or not modified).",
                   [({}, max(0.0, (now - last_success).total_seconds()))]),
        ]
    return metrics


def prometheus_text(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition format, written by prometheus-client from one scrape's metrics."""
    # prometheus-client for /metrics only
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(list(metrics)))
    return generate_latest(registry).decode("utf-8")


class _Scrape:
    """A prometheus-client collector of metrics already read from the database."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        # prometheus-client for /metrics only
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for metric in self.metrics:
            family_of = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
            names = list(metric.samples[0][0]) if metric.samples else []
            family = family_of(metric.name, metric.help, labels=names)
            for labels, value in metric.samples:
                family.add_metric([str(labels[name]) for name in names], value)
            yield family


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
