"""Command line: the setup commands (registered on the `clausewatch` group): `init` and `sources`."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from monitor.cli import Context, cli, pass_context
from monitor.cli.crawl import fetch_settings
from monitor.cli.options import console, json_option, print_json, print_table, progress
from monitor.errors import ExitCode, UsageError


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
@json_option("Print the sources as one JSON array.")
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
        print_json([source.model_dump(mode="json", include=set(fields)) for source in sources])
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

    with progress("checking", len(sources)) as advance:
        checks = check_captures(sources, fetch_settings(None), on_check=lambda check: advance())
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

