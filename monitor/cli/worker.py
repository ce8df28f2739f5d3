"""Command line: the worker commands (registered on the `clausewatch` group): `worker` and `health`."""

from __future__ import annotations

import datetime as dt
import sys

import click

from monitor.cli import Context, cli, pass_context
from monitor.cli.crawl import fetch_settings, local_notifiers, selected_sources
from monitor.cli.options import (alerts_file_option, concurrency_option, console, err_console, json_option, print_json,
                                 quiet_option)
from monitor.durations import parse_duration
from monitor.errors import DatabaseError, UsageError




def _duration(value: str, option: str) -> dt.timedelta:
    """The option's duration (monitor.durations; sub-second for tests and benchmarks), or a usage error."""
    try:
        return parse_duration(value, positive=True)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


@cli.command()
@click.option("--batch", type=click.IntRange(1, 10000), default=50, show_default=True,
              help="Sources claimed, and fetched concurrently, at a time.")
@click.option("--lease", "lease", default="5m", show_default=True, metavar="DURATION",
              help="How long a claim lasts unless renewed; a killed worker's sources wait this long.")
@click.option("--poll", default="15s", show_default=True, metavar="DURATION",
              help="How often to look for due sources when none is due.")
@click.option("--until-idle", is_flag=True,
              help="Exit once no source is due or held by any worker (one cycle, then exit).")
@click.option("--name", metavar="NAME", help="This worker's name in leases [default host:pid:random].")
@concurrency_option
@alerts_file_option
@quiet_option
@pass_context
def worker(obj: Context, batch: int, lease: str, poll: str, until_idle: bool, name: str | None,
           concurrency: int | None, alerts_file: str | None, quiet: bool) -> None:
    """Fetch due sources, sharing the work with every other worker on the same PostgreSQL database.

    Each worker claims a batch of due sources (SELECT ... FOR UPDATE SKIP LOCKED) with a lease, fetches and
    records them, and sets each one's next due time from its schedule in sources.yaml. Start one per core or
    per machine; a worker killed mid-fetch loses its sources only until its lease expires. SIGTERM or Ctrl-C
    stops the fetches in flight and hands the unfinished sources back at once. Needs PostgreSQL (on SQLite, use
    `run --once` from cron or `daemon`).

    \b
    Example:
      clausewatch --db postgresql://clausewatch@db.internal/clausewatch worker --batch 100
    """
    from monitor.analysis import analysis_processes
    from monitor.pipeline import LONG_RUNNING_CACHED_SOURCES, Recorder
    from monitor.store import connect
    from monitor.store.leases import require_postgresql
    from monitor.worker import WorkerSettings, run_worker

    require_postgresql(connect(obj.db_url))  # refuse SQLite before touching the file
    settings = WorkerSettings(batch=batch, lease=_duration(lease, "--lease"),
                              poll=_duration(poll, "--poll").total_seconds(), until_idle=until_idle, name=name)
    if settings.lease < dt.timedelta(seconds=1):
        raise UsageError("--lease must be at least 1s (it is renewed every third of itself)")
    sources = selected_sources(obj, ())
    analysis_processes()  # a bad CLAUSEWATCH_ANALYSIS_PROCESSES is an error now, not in every batch
    recorder = Recorder(obj.engine(), alerts=obj.alerts_config(), cache_sources=LONG_RUNNING_CACHED_SOURCES)
    console.print(f"worker: {len(sources)} sources; SIGTERM or Ctrl-C to stop")
    stats = run_worker(obj.engine(), sources, fetch_settings(concurrency),
                       local_notifiers(alerts_file, quiet, recorder.alerts), settings, recorder=recorder)
    for failure in stats.summary.alert_failures:
        err_console.print(f"[red]alert channel failed[/] {failure}", soft_wrap=True)
    console.print(stats.line())


@cli.command()
@click.option("--max-age", default="1d", show_default=True, metavar="DURATION",
              help="Unhealthy when the newest successful fetch is older than this.")
@json_option("One JSON document (the same as /healthz of `serve`).")
@pass_context
def health(obj: Context, max_age: str, as_json: bool) -> None:
    """Check the database, the age of the last successful fetch and failing sources, for monitoring.

    Exit code 0 ok; 1 degraded (some sources failing 3+ captures in a row, or overdue with no worker on them);
    6 unhealthy (database unreachable or its schema out of date, or no successful fetch within --max-age).

    \b
    Examples:
      clausewatch health --max-age 2h
      clausewatch health --json | jq .status
    """
    from rich.markup import escape

    from monitor.store.health import UNHEALTHY, HealthCheck, HealthReport, check_health

    limit = _duration(max_age, "--max-age")
    try:
        report = check_health(obj.engine(ensure=False), max_age=limit)
    except DatabaseError as error:
        report = HealthReport(checked_at=dt.datetime.now(dt.timezone.utc),
                              checks=[HealthCheck("database", UNHEALTHY, str(error))])
    if as_json:
        print_json(report.as_dict())
    else:
        colours = {"ok": "green", "degraded": "yellow", "unhealthy": "red"}
        for check in report.checks:
            console.print(f"[{colours[check.status]}]{check.status:9}[/] {check.name}: {escape(check.detail)}",
                          markup=True, soft_wrap=True, highlight=False)
        console.print(f"status: {report.status}")
    sys.exit(report.exit_code)
