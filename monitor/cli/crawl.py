"""Command line: the crawl commands (registered on the `clausewatch` group): run, daemon, ingest, import,
reextract and check-source, and the helpers the crawl worker shares with them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import (alerts_file_option, at_option, concurrency_option, console, err_console, progress,
                                 quiet_option)
from monitor.errors import ExitCode, UsageError
from monitor.timestamps import parse_time


def local_notifiers(alerts_file: str | None, quiet: bool, config: Any = None) -> list:
    """The local notifiers of a command: the terminal (unless --quiet) and the JSON-lines file.

    Without clausewatch.yaml the file is alerts.jsonl unless '-'; with one, the configured channels
    (through the outbox) carry the alerts and the file is written only when --alerts-file names it.
    """
    from monitor.alerts import ConsoleNotifier, JsonLinesNotifier
    from monitor.settings import load_settings

    settings = load_settings()
    if alerts_file is None and settings.is_set("alerts_file"):
        alerts_file = settings.alerts_file
    notifiers: list = [] if quiet else [ConsoleNotifier()]
    if alerts_file != "-" and (config is None or alerts_file):
        notifiers.append(JsonLinesNotifier(alerts_file or settings.alerts_file))
    return notifiers


def fetch_settings(concurrency: int | None):  # type: ignore[no-untyped-def]
    from monitor.fetch.settings import fetch_settings_from_env

    return fetch_settings_from_env(concurrency=concurrency)


def selected_sources(obj: Context, source_ids: tuple[str, ...]) -> list:
    from monitor.sources import find_source

    sources = obj.sources()
    if source_ids:
        return [find_source(sources, source_id) for source_id in source_ids]
    return [source for source in sources if source.enabled]


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit (for cron).")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@concurrency_option
@alerts_file_option
@quiet_option
@pass_context
def run(obj: Context, once: bool, source_ids: tuple[str, ...], concurrency: int | None,
        alerts_file: str | None, quiet: bool) -> None:
    """Fetch every enabled source once: extract, compare, store, alert.

    Prints one summary line. Exit code 0 when every fetch succeeded, 1 when some failed, 4 when another
    `run --once` is still running on this database (this one exits at once and does nothing).

    \b
    Examples:
      clausewatch run --once
      clausewatch run --once --source openai-services-agreement
      */30 * * * *  cd /srv/clausewatch && clausewatch run --once --quiet   # crontab
    """
    from monitor.analysis import analysis_processes
    from monitor.pipeline import Recorder, run_cycle

    from monitor.logs import summarise_failed_captures

    summarise_failed_captures()
    sources = selected_sources(obj, source_ids)
    alerts = obj.alerts_config()  # a mistake in it stops the run before the database is touched
    processes = analysis_processes()
    _start_analysis_workers(processes, len(sources))
    # Cron lock: a slow cycle and the next tick never overlap; the later one exits 4 (monitor/store/leases.py).
    from monitor.store.leases import run_lock
    click.get_current_context().with_resource(run_lock(obj.engine()))
    recorder = Recorder(obj.engine(), alerts=alerts)
    with progress("fetching", len(sources)) as advance:
        summary = run_cycle(recorder, sources, fetch_settings(concurrency),
                            local_notifiers(alerts_file, quiet, recorder.alerts),
                            on_progress=lambda source, outcome: advance(), analysis_processes=processes)
    _print_failures(summary.outcomes, sources)
    for failure in summary.alert_failures:
        err_console.print(f"[red]alert channel failed[/] {failure}", soft_wrap=True)
    console.print(summary.line())
    sys.exit(ExitCode.PROBLEM if summary.failed else ExitCode.OK)


def _start_analysis_workers(processes: int, captures: int) -> None:
    """Start the analysis workers now, while this process has one thread, so that they fork from it (and
    inherit its imports), if the work is worth them."""
    from monitor.analysis import MIN_SOURCES_TO_START_WORKERS, shared_pool

    if captures >= MIN_SOURCES_TO_START_WORKERS:
        shared_pool(processes)


def _print_failures(outcomes: list, sources: list) -> None:
    """The failed captures grouped by kind, cause and host; one line per source is -v's (the capture log)."""
    from monitor.cli.summary import group_failures

    failed = [(o.source_id, o.attempt_outcome, o.error or "") for o in outcomes if o.outcome == "failed"]
    if not failed:
        return
    groups = group_failures(failed, {source.id: source.url for source in sources})
    err_console.print(f"{len(failed)} of {len(outcomes)} sources failed"
                      + ("" if _verbose() else " (-v for one line per source)") + ":", soft_wrap=True)
    for group in groups:
        err_console.print(f"  {group.line()}", soft_wrap=True, markup=False)


def _verbose() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("verbose"))


@cli.command()
@concurrency_option
@alerts_file_option
@quiet_option
@pass_context
def daemon(obj: Context, concurrency: int | None, alerts_file: str | None, quiet: bool) -> None:
    """Keep running: fetch each source on its own schedule (with jitter) until SIGTERM.

    Every source is fetched once at start. SIGTERM or Ctrl-C stops cleanly after the fetches in flight.
    Each source run logs its summary: as a warning when the fetch failed, else with -v.

    \b
    Example:
      clausewatch --db postgresql://postgres@db/clausewatch daemon --quiet
    """
    from monitor.analysis import analysis_processes
    from monitor.fetch.politeness import Politeness
    from monitor.pipeline import LONG_RUNNING_CACHED_SOURCES, Recorder, run_cycle
    from monitor.schedule import run_daemon

    sources = selected_sources(obj, ())
    processes = analysis_processes()
    recorder = Recorder(obj.engine(), alerts=obj.alerts_config(), cache_sources=LONG_RUNNING_CACHED_SOURCES)
    settings, notifiers = fetch_settings(concurrency), local_notifiers(alerts_file, quiet, recorder.alerts)
    politeness = Politeness.for_settings(settings)  # every job's fetches share the per-host limits and robots.txt

    def run_source(source: Any) -> None:
        summary = run_cycle(recorder, [source], settings, notifiers, analysis_processes=processes,
                            politeness=politeness)
        log_daemon_run(source.id, summary)

    console.print(f"daemon: watching {len(sources)} sources; SIGTERM or Ctrl-C to stop")
    run_daemon(sources, run_source)


def log_daemon_run(source_id: str, summary: Any) -> None:
    """One line per run of a source: a warning when its fetch failed, else INFO (shown with -v), so that a
    daemon over thousands of sources does not fill its log with routine runs."""
    log = logging.getLogger("monitor.daemon")
    log.log(logging.WARNING if summary.failed else logging.INFO, "%s: %s", source_id, summary.line())
    for failure in summary.alert_failures:
        log.warning("alert channel failed: %s", failure)


@cli.command()
@click.argument("source_id", metavar="ID")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@at_option("When the capture was made (ISO 8601, UTC if no offset) [default now].")
@alerts_file_option
@quiet_option
@pass_context
def ingest(obj: Context, source_id: str, file: Path, at: str | None, alerts_file: str | None,
           quiet: bool) -> None:
    """Record a local FILE as if it had been fetched for source ID (same pipeline as `run`).

    \b
    Example:
      clausewatch ingest openai-services-agreement saved-page.html --at 2026-03-12T09:00:00Z
    """
    from monitor.pipeline import Recorder, ingest_file
    from monitor.sources import find_source

    source = find_source(obj.sources(), source_id)
    recorder = Recorder(obj.engine(), alerts=obj.alerts_config())
    recorder.sync_sources([source])
    outcome = ingest_file(recorder, source, str(file), parse_time(at) if at else None,
                          local_notifiers(alerts_file, quiet, recorder.alerts))
    detail = f" (version {outcome.version_seq})" if outcome.version_seq else ""
    error = f": {outcome.attempt_outcome}: {outcome.error}" if outcome.outcome == "failed" else ""
    console.print(f"{source_id}: {outcome.outcome}{detail}{error}", soft_wrap=True)
    sys.exit(ExitCode.PROBLEM if outcome.outcome == "failed" else ExitCode.OK)


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--example", is_flag=True,
              help="Load the small real history shipped with ClauseWatch instead of PATH (terms with real "
                   "tightenings and a licence lineage; see monitor/_example/ATTRIBUTION.md).")
@pass_context
def import_command(obj: Context, path: Path | None, example: bool) -> None:
    """Load history from an Open Terms Archive dataset folder or versions git repository.

    A dataset folder holds <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md; a versions repository
    holds <service>/<terms type>.md with one commit per version. A document that an entry of the sources
    file names in its `history:` field continues as that source; any other becomes a source whose provider
    is the service and whose title is the terms type. Versions already stored are skipped; older ones are
    put in time order. Imported history sends no alerts.

    \b
    Examples:
      clausewatch import ../shared/corpus/genai-eu
      clausewatch import --example && clausewatch serve
    """
    from monitor.analysis import analysis_processes
    from monitor.importer import EXAMPLE_DATASETS, find_versions

    if example == (path is not None):
        raise UsageError("give a dataset PATH or --example (one of them)")
    folders = [(folder, find_versions(folder)) for folder in (EXAMPLE_DATASETS if example else (path,))]
    registry = obj.sources()
    _start_analysis_workers(analysis_processes(), sum(len(versions) for _, versions in folders))
    for folder, versions in folders:
        _import_folder(obj, folder, versions, registry)


def _import_folder(obj: Context, path: Path, versions: list, registry: list) -> None:
    from monitor.importer import import_history
    from monitor.pipeline import Recorder

    recorder = Recorder(obj.engine())  # no alert channels: imported history alerts nobody
    with progress("importing", len(versions)) as advance:
        summary = import_history(recorder, path, on_progress=lambda version, outcome: advance(),
                                 versions=versions, registry=registry)
    if summary.already_stored == summary.found:
        console.print(f"nothing new: all {summary.found} recorded versions of {summary.documents} documents "
                      f"are already stored")
        return
    new = sum(o.outcome == "new_version" for o in summary.outcomes)
    failed = sum(o.outcome == "failed" for o in summary.outcomes)
    skipped = f", {summary.already_stored} already stored" if summary.already_stored else ""
    console.print(f"imported {len(summary.outcomes)} recorded versions of {summary.documents} documents: "
                  f"{new} distinct versions, {failed} failed captures{skipped}")
    if summary.backfilled:
        console.print(f"older versions put in time order (events made again, no alerts): "
                      f"{', '.join(summary.backfilled)}", soft_wrap=True)


@cli.command()
@click.argument("source_ids", metavar="[ID]...", nargs=-1)
@pass_context
def reextract(obj: Context, source_ids: tuple[str, ...]) -> None:
    """Extract the newest stored snapshot of each source again, after a selector or code change.

    Versions this makes are marked technical and never alert. No network.

    \b
    Example:
      clausewatch reextract openai-services-agreement
    """
    from monitor.pipeline import Recorder, reextract_source

    sources = selected_sources(obj, source_ids)
    recorder = Recorder(obj.engine())
    recorder.sync_sources(sources)
    for source in sources:
        outcome = reextract_source(recorder, source)
        if outcome is None:
            console.print(f"{source.id}: no stored snapshot")
        elif outcome.outcome == "new_version":
            console.print(f"{source.id}: technical version {outcome.version_seq}")
        else:
            detail = f": {outcome.attempt_outcome}: {outcome.error}" if outcome.error else ""
            console.print(f"{source.id}: {outcome.outcome}{detail}")


@cli.command("check-source")
@click.argument("source_id", metavar="ID")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check a saved copy of the page instead of fetching it.")
@click.option("--lines", default=15, show_default=True, help="How many lines of the text to show.")
@click.option("--suggest", is_flag=True, help="Also print a CSS selector of the terms block found automatically, "
                                              "ready to paste into sources.yaml as `select`.")
@pass_context
def check_source(obj: Context, source_id: str, file: Path | None, lines: int, suggest: bool) -> None:
    """Fetch a source once and show what would be extracted: length, first lines, clauses by
    category, and every validation problem. Stores nothing. How a maintainer writes a selector.

    Exit code 0 when the capture is valid, 1 when it has a problem (selectors that match nothing are one).

    \b
    Examples:
      clausewatch check-source anthropic-commercial-terms
      clausewatch check-source anthropic-commercial-terms --file saved.html
      clausewatch check-source xai-terms-of-service --suggest
    """
    from collections import Counter

    from rich.markup import escape

    from monitor.pipeline import check_capture, fetch_once
    from monitor.sources import find_source

    source = find_source(obj.sources(), source_id)
    result = fetch_once(source, fetch_settings(None), path=file)
    check = check_capture(source, result, suggest=suggest)
    console.print(f"[bold]{source.id}[/] {source.url}", markup=True)
    console.print(f"fetch: {result.outcome} {result.http_status or ''} {len(result.body)} bytes "
                  f"in {result.elapsed_ms} ms")
    if check.document is not None:
        text_lines = check.document.text.splitlines()
        console.print(f"text: {len(check.document.text)} characters, {len(text_lines)} lines; "
                      f"title {check.document.title!r}")
        for line in [line for line in text_lines if line][:lines]:
            console.print(f"  | {line[:160]}", markup=False)
        by_category = Counter(category for clause in check.clauses for category in clause.categories)
        console.print(f"clauses: {len(check.clauses)}, watched {sum(1 for c in check.clauses if c.categories)}"
                      + "".join(f"\n  {category}: {count}" for category, count in sorted(by_category.items())))
    if check.document is not None and check.document.method:
        console.print(f"extraction: {check.document.method}")
    if check.suggestion:
        console.print(f"suggested select: [{_yaml_flow_string(check.suggestion)}]", markup=False)
    for problem in check.problems:
        err_console.print(f"[yellow]problem:[/] {escape(problem)}", markup=True)
    console.print("ok" if not check.problems else f"{len(check.problems)} problem(s)")
    sys.exit(ExitCode.PROBLEM if check.problems else ExitCode.OK)


def _yaml_flow_string(value: str) -> str:
    """`value` as an item of a YAML flow list (quoted when YAML would read it otherwise)."""
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=10_000).strip()[1:-1]

