"""Command line: the ops commands (registered on the `clausewatch` group): config, prune, export and
import-export. Each is a thin wrapper over `monitor.effective_settings`, `monitor.store.prune`,
`monitor.store.export` or `monitor.store.import_export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import console, err_console, json_option, print_json
from monitor.errors import UsageError

# The global options of `cli` and the settings they set.
_GLOBAL_OPTIONS = {"db": "database", "sources": "sources_file", "config": "config_file", "verbose": "verbose",
                   "log_format": "log_format"}


def _command_line_options(ctx: click.Context) -> dict[str, object]:
    """The global options given on the command line (left out, an option falls back to its setting)."""
    root = ctx.find_root()
    return {setting: root.params[param] for param, setting in _GLOBAL_OPTIONS.items()
            if root.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE}


@cli.command("config")
@json_option("One JSON document: settings and unknown variables.")
@click.pass_context
def config_command(ctx: click.Context, as_json: bool) -> None:
    """The configuration in force: every setting, its value, and where it came from (default, env or
    option), with the database password and other secrets masked. Every setting can be set by an
    environment variable (the `env` column), which is how a container or a systemd unit configures
    ClauseWatch. Exit code 2 when a setting is invalid.

    \b
    Examples:
      clausewatch config
      CLAUSEWATCH_FETCH_PER_HOST=4 clausewatch --db postgresql://cw:secret@db/cw config --json
    """
    from monitor.effective_settings import collect_settings, unknown_variables
    from monitor.settings import environment

    settings = collect_settings(environment(), _command_line_options(ctx))
    unknown = unknown_variables(environment())
    if as_json:
        print_json({"settings": [setting.as_dict() for setting in settings], "unknown_variables": unknown})
        return
    # One line per setting (not a table): readable in a narrow terminal, in a log and through grep.
    width = max(len(setting.name) for setting in settings)
    for setting in settings:
        where = {"env": f"env {setting.env}", "option": f"option {setting.option}"}.get(setting.origin, "default")
        hint = f"; env {setting.env}" if setting.origin != "env" and setting.env else ""
        console.print(f"{setting.name:<{width}}  {setting.value}  ({where}{hint})", markup=False, highlight=False)
    for name in unknown:
        console.print(f"[yellow]note:[/] {name} is set but is no ClauseWatch setting (a typo, or a secret the "
                      f"alerts config refers to); its value is not shown", markup=True, highlight=False)


@cli.command()
@click.option("--attempts-older-than", "age", metavar="AGE", required=True,
              help="Delete fetch attempts older than this (90d, 12w, 36h: the unit is required).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@pass_context
def prune(obj: Context, age: str, dry_run: bool) -> None:
    """Delete old fetch attempts, the one table that grows with every fetch.

    Kept whatever their age: the first attempt of each version (the evidence of when it was fetched)
    and the newest attempt of each source. Sources, snapshots, versions, clauses, change events and
    notifications are never pruned; a snapshot whose only attempts are deleted is kept, as the raw
    evidence of its versions.

    \b
    Examples:
      clausewatch prune --attempts-older-than 90d --dry-run
      0 4 * * 0  clausewatch prune --attempts-older-than 90d   # crontab: weekly
    """
    import datetime as dt

    from monitor.store.prune import parse_age, prune_attempts

    try:
        delta = parse_age(age)
    except ValueError as error:
        raise UsageError(f"--attempts-older-than: {error}") from None
    report = prune_attempts(obj.engine(), dt.datetime.now(dt.timezone.utc) - delta, dry_run=dry_run)
    console.print(report.line())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: JSON lines (one header line, then one line per row); csv: a zip of one CSV per table.")
@click.option("--output", "-o", metavar="FILE", help="Write here [default: stdout]; a .gz name compresses JSON.")
@pass_context
def export(obj: Context, fmt: str, output: str | None) -> None:
    """Export the whole history: sources, fetch attempts, snapshots (raw bodies, base64), versions,
    clauses, change events and notifications, with their ids. `clausewatch import-export` loads it into
    an empty database of either kind, which is how to move from SQLite to PostgreSQL and back.

    \b
    Examples:
      clausewatch export --format json -o history.jsonl.gz
      clausewatch export --format csv -o history.zip
      clausewatch --db sqlite:///clausewatch.db export | clausewatch --db postgresql://postgres@db/cw import-export -
    """
    import gzip

    from monitor.store.export import export_csv_zip, export_jsonl

    engine = obj.engine()
    if fmt == "csv":
        if output is None and sys.stdout.isatty():
            raise UsageError("--format csv writes a zip: name a file with -o history.zip (or redirect stdout)")
        if output is None:
            report = export_csv_zip(engine, sys.stdout.buffer)
        else:
            with open(output, "wb") as handle:
                report = export_csv_zip(engine, handle)
    elif output is None:
        report = export_jsonl(engine, sys.stdout)
    else:
        opener = gzip.open if output.endswith(".gz") else open
        with opener(output, "wt", encoding="utf-8") as handle:  # type: ignore[operator]
            report = export_jsonl(engine, handle)
    err_console.print(report.line("exported") + (f" to {output}" if output else ""), soft_wrap=True)


@cli.command("import-export")
@click.argument("file", metavar="FILE")
@pass_context
def import_export(obj: Context, file: str) -> None:
    """Load a `clausewatch export` file (JSON lines, gzipped or not, or the CSV zip; '-' reads JSON lines
    from stdin) into an empty database, with the same ids. The database is created if needed; one
    holding any history is refused. (`clausewatch import` is for Open Terms Archive datasets.)

    \b
    Example:
      clausewatch --db postgresql://postgres@127.0.0.1/clausewatch import-export history.jsonl.gz
    """
    from monitor.store.export_reader import open_export
    from monitor.store.import_export import import_records

    if file != "-" and not Path(file).is_file():
        raise UsageError(f"{file}: no such file")
    report = import_records(obj.engine(), open_export(file, sys.stdin.buffer))
    console.print(report.line("imported"), soft_wrap=True)
