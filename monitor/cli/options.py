"""Command line: the options several commands share, and the one way each kind of output is printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


# Columns whose cells are copied into other commands or read as times: never wrapped or cut.
NEVER_CUT = frozenset({"id", "source", "document", "seen", "first seen", "created", "since", "version", "seq"})
PIPED_WIDTH_LIMIT = 100_000


def json_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--json` (the `as_json` flag); the help says what the document is."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def at_option(help: str, metavar: str = "TIMESTAMP") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--at` (a time the command parses with monitor.timestamps.parse_time); the help says what it means here."""
    return click.option("--at", "at", metavar=metavar, help=help)


concurrency_option = click.option("--concurrency", type=click.IntRange(1, 1000),
                                  help="Requests in flight at once [env CLAUSEWATCH_FETCH_CONCURRENCY; default 20].")
alerts_file_option = click.option(
    "--alerts-file", metavar="PATH",
    help="JSON-lines file alerts are appended to [env CLAUSEWATCH_ALERTS_FILE; default alerts.jsonl, or none when "
         "clausewatch.yaml configures the channels; '-' for none].")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No console alerts (the JSON-lines file still gets them).")


def print_json(data: Any) -> None:
    """Every `--json` output: one document on stdout, indented, non-ASCII text as it is, values JSON has no
    type for (a path, a datetime) as their text."""
    print(json.dumps(data, indent=1, ensure_ascii=False, default=str))


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


class progress:
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

