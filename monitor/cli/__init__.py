"""Command line: arguments in, calls to the stages out. Holds no pipeline logic of its own.

The group `cli`, its global options and the Context they make live here; the commands live in one module
per family (setup, crawl, reading, and the lazily loaded ones of LAZY_COMMANDS); monitor/cli/options.py
holds the options they share and the way output is printed."""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from typing import Any, NoReturn

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor import __version__
from monitor.cli.options import err_console
from monitor.errors import ClauseWatchError, DatabaseError, UsageError

# The commands of other areas live in their own modules, which register themselves on `cli` when imported.
# They are imported when one of their commands runs or --help lists them, not on every start, so that
# `run --once` from cron does not pay for the web app or the uses registry.
LAZY_COMMANDS = {
    "alerts": "monitor.cli.alerts",
    "config": "monitor.cli.ops", "prune": "monitor.cli.ops", "export": "monitor.cli.ops",
    "import-export": "monitor.cli.ops",
    "can": "monitor.cli.uses",
    "serve": "monitor.cli.web", "site": "monitor.cli.web", "show": "monitor.cli.web", "matrix": "monitor.cli.web",
    "trends": "monitor.cli.web",
    "worker": "monitor.cli.worker", "health": "monitor.cli.worker",
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

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[COMMAND_ARGS] = rest  # the group's callback runs before the command parses them
        return name, command, rest

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


# Where the group keeps the arguments its command is given, until the command parses them.
COMMAND_ARGS = "clausewatch.command_args"

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
# The environment is read by monitor.settings alone: an option left out falls back to its setting there.
@click.option("--db", metavar="URL",
              help="Database URL [env CLAUSEWATCH_DB; default sqlite:///clausewatch.db]. "
                   "PostgreSQL: postgresql://user@host/dbname")
@click.option("--sources", metavar="PATH",
              help="Sources file [env CLAUSEWATCH_SOURCES; default ./sources.yaml].")
@click.option("--config", metavar="PATH",
              help="Alert channels and routes [env CLAUSEWATCH_CONFIG; default ./clausewatch.yaml if present].")
@click.option("--log-format", type=click.Choice(["human", "json"]),
              help="Log lines for people, or JSON lines for log shippers [env CLAUSEWATCH_LOG_FORMAT; "
                   "default human].")
@click.option("-v", "--verbose", is_flag=True,
              help="Log what happens, to stderr [env CLAUSEWATCH_VERBOSE].")
@click.version_option(__version__, prog_name="clausewatch")
@click.pass_context
def cli(ctx: click.Context, db: str | None, sources: str | None, config: str | None, log_format: str | None,
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
    from monitor.settings import load_settings

    if db is not None and not db.strip():
        raise UsageError("--db is empty: give a database URL (sqlite:///clausewatch.db, "
                         "postgresql://user@host/dbname) or leave the option out")
    if _asks_for_help(ctx):  # a bad setting must not hide the help that explains it
        ctx.obj = Context(db, sources, config)
        return
    settings = load_settings()  # every setting validated before the command runs: a bad one is named now
    configure_logging(log_format or settings.log_format, verbose or settings.verbose)
    ctx.obj = Context(db, sources, config)


def _asks_for_help(ctx: click.Context) -> bool:
    return any(arg in ctx.help_option_names for arg in ctx.meta.get(COMMAND_ARGS, ()))


def main() -> NoReturn:
    """The `clausewatch` command."""
    try:
        cli(prog_name="clausewatch")
    except SystemExit as done:
        end_process(done.code)
    end_process(0)


def end_process(code: object) -> NoReturn:
    """Exit with `code` (as SystemExit takes it) once the work is closed, skipping the interpreter's own exit.

    That exit frees every object one by one: a quarter of a second after a cycle of 500 sources (its rules,
    language model, sources and records), which nothing here needs. The analysis workers stop, the atexit
    handlers run (logging's flush, the databases' close: monitor/store/db.py), the output is flushed, and
    the process ends. With a thread of ours still running, the usual exit waits for it.
    """
    analysis = sys.modules.get("monitor.analysis")
    if analysis is not None:
        analysis.close_shared_pool()
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        sys.exit(code)
    status = _exit_status(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: Python's own exit says 120 then
            status = status or 120
    os._exit(status)


def _exit_status(code: object) -> int:
    """The status SystemExit(code) ends a process with; a message is printed to stderr, as Python does."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


# The commands every start needs (`run --once` from cron among them) register themselves on `cli` when their
# modules are imported; they import `cli` and `Context` from here, so they come last.
EAGER_MODULES = ("monitor.cli.setup", "monitor.cli.crawl", "monitor.cli.reading")
for _module in EAGER_MODULES:
    importlib.import_module(_module)
