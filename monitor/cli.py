"""Command line: arguments in, calls to the stages out. Holds no pipeline logic of its own."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor import __version__
from monitor.errors import ClauseWatchError, DatabaseError, ExitCode, UsageError
from monitor.timestamps import parse_time

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


# Columns whose cells are copied into other commands or read as times: never wrapped or cut.
NEVER_CUT = frozenset({"id", "source", "document", "seen", "first seen", "created", "since", "version", "seq"})
PIPED_WIDTH_LIMIT = 100_000


def print_table(table: Table) -> None:
    """A table on stdout, its ids and dates (NEVER_CUT) whole. Piped, it is plain ASCII and as wide as its
    content, so a script or a file gets every character; on a terminal the other columns wrap."""
    from rich import box
    from rich.measure import Measurement

    # Cells are printed as they are (markup=False): a message or a clause may hold [brackets]; a styled
    # cell is a rich Text.
    for column in table.columns:
        if str(column.header) in NEVER_CUT:
            column.no_wrap = True
        elif str(column.header) == "url":
            column.overflow = "fold"
    if console.is_terminal:
        console.print(table, markup=False)
        return
    table.box = box.ASCII
    needed = Measurement.get(console, console.options.update_width(PIPED_WIDTH_LIMIT), table).maximum
    terminal_width = console.width
    console.width = max(terminal_width, needed)
    try:
        console.print(table, markup=False)
    finally:
        console.width = terminal_width


# The commands of other areas live in their own modules, which register themselves on `cli` when imported.
# They are imported when one of their commands runs or --help lists them, not on every start, so that
# `run --once` from cron does not pay for the web app or the uses registry.
LAZY_COMMANDS = {
    "alerts": "monitor.cli_alerts",
    "config": "monitor.cli_ops", "prune": "monitor.cli_ops", "export": "monitor.cli_ops",
    "import-export": "monitor.cli_ops",
    "can": "monitor.cli_uses",
    "serve": "monitor.cli_web", "site": "monitor.cli_web", "show": "monitor.cli_web", "matrix": "monitor.cli_web",
    "trends": "monitor.cli_web",
    "worker": "monitor.cli_worker", "health": "monitor.cli_worker",
}


class _Group(click.Group):
    """Turns every ClauseWatchError (and database failures) into one line and an exit code; imports the
    module of a command of LAZY_COMMANDS when it is needed."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            importlib.import_module(LAZY_COMMANDS[name])
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in dict.fromkeys(LAZY_COMMANDS.values()):
            importlib.import_module(module)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClauseWatchError as error:
            from rich.markup import escape  # a message may hold [brackets]: pip install 'clausewatch[postgres]'

            err_console.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(error.exit_code)
        except (OperationalError, ProgrammingError) as error:
            err_console.print(f"[bold red]error:[/] database: {str(error.orig).strip().splitlines()[0]}",
                              soft_wrap=True)
            sys.exit(DatabaseError.exit_code)


# The commands that may create the database (a new SQLite file, a new schema); every other command
# refuses a SQLite file that is not there, so that a mistyped --db is an error, not an empty answer.
CREATING_COMMANDS = frozenset({"init", "run", "daemon", "ingest", "import", "import-export", "worker"})


def _creates_database() -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.find_root().invoked_subcommand in CREATING_COMMANDS


class Context:
    """What the global options chose; engines and sources are made on first use."""

    def __init__(self, db: str | None, sources: str | None, config: str | None = None) -> None:
        self.db_url = db
        self.sources_file = sources
        self.config_file = config
        self._engine = None
        self._alerts: Any = False  # not loaded yet

    def engine(self, *, ensure: bool = True):  # type: ignore[no-untyped-def]
        from monitor.store import connect
        from monitor.store.db import ensure_database

        if self._engine is None:
            self._engine = connect(self.db_url, must_exist=not _creates_database())
            if ensure:
                ensure_database(self._engine)
        return self._engine

    def sources(self):  # type: ignore[no-untyped-def]
        from monitor.sources import load_sources

        return load_sources(self.sources_file)

    def alerts_config(self):  # type: ignore[no-untyped-def]
        """The validated clausewatch.yaml (channels, routes, outbox), or None when there is none."""
        from monitor.alerts.config import load_alerts_config

        if self._alerts is False:
            self._alerts = load_alerts_config(self.config_file)
            if self._alerts is not None and any(route.sources for route in self._alerts.routes):
                from monitor.sources import describe_sources_file, sources_path

                self._alerts.check_route_sources({source.id for source in self.sources()},
                                                 describe_sources_file(sources_path(self.sources_file)))
        return self._alerts


pass_context = click.make_pass_decorator(Context)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", envvar="CLAUSEWATCH_DB", metavar="URL",
              help="Database URL [env CLAUSEWATCH_DB; default sqlite:///clausewatch.db]. "
                   "PostgreSQL: postgresql://user@host/dbname")
@click.option("--sources", envvar="CLAUSEWATCH_SOURCES", metavar="PATH",
              help="Sources file [env CLAUSEWATCH_SOURCES; default ./sources.yaml].")
@click.option("--config", envvar="CLAUSEWATCH_CONFIG", metavar="PATH",
              help="Alert channels and routes [env CLAUSEWATCH_CONFIG; default ./clausewatch.yaml if present].")
@click.option("--log-format", type=click.Choice(["human", "json"]), default="human", envvar="CLAUSEWATCH_LOG_FORMAT",
              help="Log lines for people, or JSON lines for log shippers [env CLAUSEWATCH_LOG_FORMAT; "
                   "default human].")
@click.option("-v", "--verbose", is_flag=True, envvar="CLAUSEWATCH_VERBOSE",
              help="Log what happens, to stderr [env CLAUSEWATCH_VERBOSE].")
@click.version_option(__version__, prog_name="clausewatch")
@click.pass_context
def cli(ctx: click.Context, db: str | None, sources: str | None, config: str | None, log_format: str,
        verbose: bool) -> None:
    """ClauseWatch: watch AI terms and model licences for the clauses that forbid
    distillation and competing use, keep every version, alert when one tightens.

    \b
    Quick start:
      clausewatch import --example  # a small real history (./clausewatch.db)
      clausewatch serve             # browse it at http://127.0.0.1:8000/
      clausewatch run --once        # fetch every source once, record, alert
      clausewatch changes           # what changed, clause by clause
    """
    from monitor.logs import configure_logging

    if db is not None and not db.strip():
        raise UsageError("--db is empty: give a database URL (sqlite:///clausewatch.db, "
                         "postgresql://user@host/dbname) or leave the option out")
    configure_logging(log_format, verbose)
    ctx.obj = Context(db, sources, config)


# ---------------------------------------------------------------------------- setup


@cli.command()
@pass_context
def init(obj: Context) -> None:
    """Create the database, or upgrade it to the newest schema (alembic upgrade head).

    \b
    Example:
      clausewatch --db postgresql://postgres@127.0.0.1/clausewatch init
    """
    from monitor.store.db import init_database

    revision = init_database(obj.engine(ensure=False))
    console.print(f"database ready at {obj.engine().url.render_as_string(hide_password=True)} "
                  f"(schema {revision})")


@cli.command("sources")
@click.option("--check", is_flag=True, help="Only validate the sources file (no network); exit 2 on a mistake.")
@click.option("--live", is_flag=True, help="With --check: fetch every enabled source once and show what "
                                           "came of it (for maintainers); exit 1 if any failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the sources as one JSON array.")
@pass_context
def sources_command(obj: Context, check: bool, live: bool, as_json: bool) -> None:
    """List the sources of the sources file, or validate it with --check.

    \b
    Examples:
      clausewatch sources
      clausewatch sources --check --sources my-sources.yaml
      clausewatch sources --check --live
      clausewatch sources --json | jq '.[].url'
    """
    from monitor.sources import describe_sources_file, sources_path

    sources = obj.sources()
    in_use = describe_sources_file(sources_path(obj.sources_file))
    if live and not check:
        raise UsageError("--live goes with --check")
    if check and live:
        _check_live([source for source in sources if source.enabled])
        return
    if check:
        console.print(f"{in_use}: {len(sources)} sources, all valid")
        return
    if as_json:
        fields = ("id", "provider", "title", "url", "kind", "format", "schedule", "enabled")
        print(json.dumps([source.model_dump(mode="json", include=set(fields)) for source in sources], indent=1))
        return
    table = Table("id", "provider", "title", "kind", "schedule", "url",
                  title=f"{len(sources)} sources from {in_use}")
    for source in sources:
        table.add_row(source.id, source.provider, source.title, source.kind,
                      source.schedule if source.enabled else "disabled", source.url)
    print_table(table)


def _check_live(sources: list) -> None:
    """Fetch each source once, extract and classify, and print a table: ok, or failed and why."""
    from collections import Counter

    from rich.text import Text

    from monitor.pipeline import check_captures

    with _progress("checking", len(sources)) as advance:
        checks = check_captures(sources, _fetch_settings(None), on_check=lambda check: advance())
    table = Table("id", "result", "chars", "watched clauses", "problem", title=f"{len(sources)} sources, live")
    for source, check in zip(sources, checks):
        chars = str(len(check.document.text)) if check.document else ""
        watched = Counter(category for clause in check.clauses for category in clause.categories)
        table.add_row(source.id, Text("ok", "green") if not check.problems else Text("failed", "red"), chars,
                      ", ".join(f"{category} {count}" for category, count in sorted(watched.items())),
                      "; ".join(check.problems))
    print_table(table)
    failed = sum(1 for check in checks if check.problems)
    console.print(f"{len(checks) - failed} ok, {failed} failed")
    sys.exit(ExitCode.PROBLEM if failed else ExitCode.OK)


# ---------------------------------------------------------------------------- crawling


def _notifiers(alerts_file: str | None, quiet: bool, config: Any = None) -> list:
    """The local notifiers of a command: the terminal (unless --quiet) and the JSON-lines file.

    Without clausewatch.yaml the file is alerts.jsonl unless '-'; with one, the configured channels
    (through the outbox) carry the alerts and the file is written only when --alerts-file names it.
    """
    from monitor.alerts import ConsoleNotifier, JsonLinesNotifier

    notifiers: list = [] if quiet else [ConsoleNotifier()]
    if alerts_file != "-" and (config is None or alerts_file):
        notifiers.append(JsonLinesNotifier(alerts_file or "alerts.jsonl"))
    return notifiers


def _fetch_settings(concurrency: int | None):  # type: ignore[no-untyped-def]
    from monitor.fetch.settings import fetch_settings_from_env

    return fetch_settings_from_env(concurrency=concurrency)


def _selected(obj: Context, source_ids: tuple[str, ...]) -> list:
    from monitor.sources import find_source

    sources = obj.sources()
    if source_ids:
        return [find_source(sources, source_id) for source_id in source_ids]
    return [source for source in sources if source.enabled]


alerts_file_option = click.option(
    "--alerts-file", metavar="PATH", envvar="CLAUSEWATCH_ALERTS_FILE",
    help="JSON-lines file alerts are appended to [default alerts.jsonl, or none when clausewatch.yaml "
         "configures the channels; '-' for none].")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No console alerts (the JSON-lines file still gets them).")


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit (for cron).")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@click.option("--concurrency", type=click.IntRange(1, 1000), help="Requests in flight at once [default 20].")
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
    sources = _selected(obj, source_ids)
    alerts = obj.alerts_config()  # a mistake in it stops the run before the database is touched
    processes = analysis_processes()
    # Cron lock: a slow cycle and the next tick never overlap; the later one exits 4 (monitor/store/leases.py).
    from monitor.store.leases import run_lock
    click.get_current_context().with_resource(run_lock(obj.engine()))
    recorder = Recorder(obj.engine(), alerts=alerts)
    with _progress("fetching", len(sources)) as advance:
        summary = run_cycle(recorder, sources, _fetch_settings(concurrency),
                            _notifiers(alerts_file, quiet, recorder.alerts),
                            on_progress=lambda source, outcome: advance(), analysis_processes=processes)
    _print_failures(summary.outcomes, sources)
    for failure in summary.alert_failures:
        err_console.print(f"[red]alert channel failed[/] {failure}", soft_wrap=True)
    console.print(summary.line())
    sys.exit(ExitCode.PROBLEM if summary.failed else ExitCode.OK)


def _print_failures(outcomes: list, sources: list) -> None:
    """The failed captures grouped by kind, cause and host; one line per source is -v's (the capture log)."""
    from monitor.cli_summary import group_failures

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


class _progress:
    """A rich progress bar on a terminal; nothing when output is piped (cron, CI)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.bar = label, total, None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if err_console.is_terminal and self.total > 1:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
            return lambda: self.bar.advance(self.task)
        return lambda: None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@cli.command()
@click.option("--concurrency", type=click.IntRange(1, 1000), help="Requests in flight at once [default 20].")
@alerts_file_option
@quiet_option
@pass_context
def daemon(obj: Context, concurrency: int | None, alerts_file: str | None, quiet: bool) -> None:
    """Keep running: fetch each source on its own schedule (with jitter) until SIGTERM.

    Every source is fetched once at start. SIGTERM or Ctrl-C stops cleanly after the fetches in flight.

    \b
    Example:
      clausewatch --db postgresql://postgres@db/clausewatch daemon --quiet
    """
    from monitor.analysis import analysis_processes
    from monitor.fetch.politeness import Politeness
    from monitor.pipeline import Recorder, run_cycle
    from monitor.schedule import run_daemon

    sources = _selected(obj, ())
    processes = analysis_processes()
    recorder = Recorder(obj.engine(), alerts=obj.alerts_config())
    settings, notifiers = _fetch_settings(concurrency), _notifiers(alerts_file, quiet, recorder.alerts)
    politeness = Politeness.for_settings(settings)  # every job's fetches share the per-host limits and robots.txt

    def run_source(source: Any) -> None:
        summary = run_cycle(recorder, [source], settings, notifiers, analysis_processes=processes,
                            politeness=politeness)
        logging.getLogger("monitor.daemon").warning("%s: %s", source.id, summary.line())
        for failure in summary.alert_failures:
            logging.getLogger("monitor.daemon").warning("alert channel failed: %s", failure)

    console.print(f"daemon: watching {len(sources)} sources; SIGTERM or Ctrl-C to stop")
    run_daemon(sources, run_source)


@cli.command()
@click.argument("source_id", metavar="ID")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--at", "at", metavar="TIMESTAMP", help="When the capture was made (ISO 8601, UTC if no offset) "
                                                      "[default now].")
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
                          _notifiers(alerts_file, quiet, recorder.alerts))
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
    from monitor.importer import EXAMPLE_DATASETS, find_versions

    if example == (path is not None):
        raise UsageError("give a dataset PATH or --example (one of them)")
    folders = EXAMPLE_DATASETS if example else (path,)
    registry = obj.sources()
    for folder in folders:
        _import_folder(obj, folder, find_versions(folder), registry)


def _import_folder(obj: Context, path: Path, versions: list, registry: list) -> None:
    from monitor.importer import import_history
    from monitor.pipeline import Recorder

    recorder = Recorder(obj.engine())  # no alert channels: imported history alerts nobody
    with _progress("importing", len(versions)) as advance:
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

    sources = _selected(obj, source_ids)
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

    from monitor.fetch import read_file
    from monitor.pipeline import check_capture, fetch_once
    from monitor.sources import find_source

    source = find_source(obj.sources(), source_id)
    result = read_file(file) if file else fetch_once(source, _fetch_settings(None))
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


# ---------------------------------------------------------------------------- reading


def _yaml_flow_string(value: str) -> str:
    """`value` as an item of a YAML flow list (quoted when YAML would read it otherwise)."""
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=10_000).strip()[1:-1]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=1, ensure_ascii=False))


@cli.command()
@click.argument("source_id", metavar="[ID]", required=False)
@click.option("--category", "-c", metavar="C", help="Only clauses of this taxonomy category.")
@click.option("--at", metavar="TIMESTAMP", help="As the documents read at this time.")
@click.option("--all", "all_clauses", is_flag=True, help="Every clause, not only the watched ones.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (fields in the README).")
@pass_context
def clauses(obj: Context, source_id: str | None, category: str | None, at: str | None, all_clauses: bool,
            as_json: bool) -> None:
    """The watched clauses of each document's latest version (or as of --at).

    \b
    Examples:
      clausewatch clauses --category output_training
      clausewatch clauses openai-services-agreement --at 2026-01-01 --json
    """
    from monitor.clauses import CATEGORIES
    from monitor.store import session_scope
    from monitor.store.queries import list_clauses

    if category and category not in CATEGORIES:
        raise UsageError(f"unknown category {category!r} (one of: {', '.join(CATEGORIES)})")
    with session_scope(obj.engine()) as session:
        rows = list_clauses(session, source_id, category, parse_time(at) if at else None,
                            watched_only=not all_clauses)
    if as_json:
        _print_json(rows)
        return
    table = Table("source", "path", "categories", "text", title=f"{len(rows)} clauses", show_lines=True)
    for row in rows:
        table.add_row(row["source"], row["path"], "\n".join(row["categories"]), row["text"])
    print_table(table)


@cli.command()
@click.option("--since", metavar="TIMESTAMP", help="Only changes seen at or after this time.")
@click.option("--direction", type=click.Choice(["tightened", "loosened", "reworded", "unclear"]),
              help="Only changes in this direction.")
@click.option("--source", "source_id", metavar="ID", help="Only this source.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, oldest first (fields in the README).")
@pass_context
def changes(obj: Context, since: str | None, direction: str | None, source_id: str | None,
            as_json: bool) -> None:
    """Every clause change, oldest first, with its direction and reason.

    \b
    Examples:
      clausewatch changes --direction tightened --since 2026-01-01
      clausewatch changes --json > changes.json
    """
    from rich.text import Text

    from monitor.diffs import diff_as_rich_text
    from monitor.store import session_scope
    from monitor.store.queries import list_changes

    with session_scope(obj.engine()) as session:
        rows = list_changes(session, parse_time(since) if since else None, direction, source_id)
    if as_json:
        _print_json(rows)
        return
    table = Table("seen", "source", "path", "direction", "reason / diff", title=f"{len(rows)} clause changes",
                  show_lines=True)
    for row in rows:
        detail = Text(row["reason"] + "\n" if row["reason"] else "").append_text(diff_as_rich_text(row["diff"]))
        table.add_row(row["observed_at"], row["source"], row["path"],
                      f"{row['direction']}\n{', '.join(row['categories'])}", detail)
    print_table(table)


@cli.command()
@click.argument("source_id", metavar="ID")
@click.option("--clause", "key", metavar="KEY", help="The history of one clause (its key from `clauses`).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_context
def history(obj: Context, source_id: str, key: str | None, as_json: bool) -> None:
    """The versions of a document, with the clause events each made; or one clause's history.

    \b
    Examples:
      clausewatch history openai-services-agreement
      clausewatch history openai-services-agreement --clause c-1a2b3c4d
    """
    from monitor.store import session_scope
    from monitor.store.queries import attempt_counts, list_changes, list_versions, require_clause

    with session_scope(obj.engine()) as session:
        versions = list_versions(session, source_id)
        if key is not None:
            require_clause(session, source_id, key)
        events = list_changes(session, source_id=source_id, key=key)
        attempts = attempt_counts(session, source_id)
    if as_json:
        _print_json({"source": source_id, "versions": versions, "events": events, "attempts": attempts})
        return
    if key is None:
        table = Table("seq", "first seen", "chars", "clause events", "alerts", "note",
                      title=f"{source_id}: {len(versions)} versions; fetch attempts "
                            + ", ".join(f"{k} {v}" for k, v in sorted(attempts.items())))
        for v in versions:
            note = f"revert to {v['revert_of']}" if v["revert_of"] else ("technical" if v["technical"] else "")
            table.add_row(str(v["seq"]), v["observed_at"], str(v["length"]), str(v["events"]), str(v["alerts"]),
                          note)
        print_table(table)
    table = Table("seen", "version", "path", "kind", "direction", "reason", title="clause events", show_lines=True)
    for e in events:
        table.add_row(e["observed_at"], str(e["version"]), e["path"], e["kind"], e["direction"], e["reason"])
    print_table(table)


@cli.command()
@click.argument("source_id", metavar="ID")
@click.option("--from", "from_seq", type=int, help="Older version seq [default: the one before --to].")
@click.option("--to", "to_seq", type=int, help="Newer version seq [default: the latest].")
@click.option("--format", "output", type=click.Choice(["text", "html", "json"]), default="text", show_default=True,
              help="html: the history site's diff page, as one file (its stylesheet inlined).")
@pass_context
def diff(obj: Context, source_id: str, from_seq: int | None, to_seq: int | None, output: str) -> None:
    """Word-level diff between two versions of a document.

    \b
    Examples:
      clausewatch diff le-chat-commercial-terms
      clausewatch diff le-chat-commercial-terms --from 1 --to 3 --format json
      clausewatch diff le-chat-commercial-terms --format html > diff.html
    """
    from monitor.changes import word_diff
    from monitor.store import session_scope
    from monitor.store.queries import get_version, require_source, version_as_of

    with session_scope(obj.engine()) as session:
        require_source(session, source_id)
        newest = version_as_of(session, source_id)
        if newest is None:
            raise UsageError(f"source {source_id!r} has no versions yet")
        to_seq = to_seq or newest.seq
        from_seq = from_seq or max(1, to_seq - 1)
        before, after = get_version(session, source_id, from_seq), get_version(session, source_id, to_seq)
        if output == "html":
            print(_diff_page(session, source_id, from_seq, to_seq), end="")
            return
        ops = word_diff(before.text, after.text)
    if output == "json":
        _print_json({"source": source_id, "from": from_seq, "to": to_seq, "diff": [list(op) for op in ops]})
        return
    console.print(f"{source_id}: version {from_seq} → {to_seq}", style="bold")
    if all(op == 0 for op, _ in ops):
        console.print("no difference")
        return
    console.print(_changed_paragraphs(ops))


def _diff_page(session: Any, source_id: str, from_seq: int, to_seq: int) -> str:
    """The site's diff page (monitor/web: its data, its template, its word diff), with the stylesheet inlined
    so the file reads on its own; links are relative, as in `clausewatch site`'s export."""
    from monitor.web import queries
    from monitor.web.render import STATIC, Renderer

    renderer = Renderer(static=True)
    path = f"/sources/{source_id}/diff/{from_seq}..{to_seq}"
    page = renderer.render("diff.html", queries.diff_page(session, source_id, str(from_seq), str(to_seq),
                                                          budget=None), path)
    stylesheet = f'<link rel="stylesheet" href="{renderer.link_for(path)("/static/site.css")}">'
    return page.replace(stylesheet, f"<style>\n{(STATIC / 'site.css').read_text(encoding='utf-8')}</style>", 1)


def _changed_paragraphs(ops: list) -> Any:
    """Only the paragraphs that changed, so a long document's diff stays readable."""
    from rich.text import Text

    from monitor.diffs import diff_as_rich_text

    lines: list[list] = [[]]
    for op, chunk in ops:
        parts = chunk.split("\n\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append((op, part))
    out = Text()
    for line in lines:
        if any(op != 0 for op, _ in line):
            out.append_text(diff_as_rich_text(line)).append("\n\n")
    return out


def main() -> None:
    cli(prog_name="clausewatch")
