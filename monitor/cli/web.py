"""Command line: the history-site commands (serve, site) and their terminal twins (show, matrix, trends),
registered on the `clausewatch` group. Each prints the same data the web page of the same name shows."""

from __future__ import annotations

import errno
import signal
import socket
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import at_option, console, json_option, print_json, print_table
from monitor.errors import ListenError, UsageError
from monitor.timestamps import parse_time

_SYMBOLS = {"tightened": "▲", "loosened": "▼", "reworded": "≈", "unclear": "?"}
_COLOURS = {"tightened": "red", "loosened": "green", "reworded": "blue", "unclear": "yellow"}


def _direction(direction: str) -> Text:
    return Text(f"{_SYMBOLS.get(direction, '')} {direction}", style=_COLOURS.get(direction, ""))


def _date_argument(value: str | None) -> str | None:
    """Validate a date the way the other commands do, keep the text the page uses."""
    if value:
        parse_time(value)
    return value


def _web_error(error: Exception) -> UsageError:
    return UsageError(str(error))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the read-only history site: documents, timelines, clause histories, diffs, the matrix,
    trends, search, Atom feeds (/feeds/all.atom) and a JSON mirror of every page under /api/.

    \b
    Examples:
      clausewatch serve --port 8000        # then open http://127.0.0.1:8000/
      clausewatch --db postgresql://postgres@127.0.0.1/clausewatch serve --host 0.0.0.0
    """
    import uvicorn

    from monitor.web import create_app

    app = create_app(obj.engine())
    listening = _listen(host, port)
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again for the handler found
    # before it: with the default one the process would die of it (exit 143) after a clean shutdown.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda number, frame: None)
    console.print(f"serving the history site on http://{host}:{port}/ (Ctrl-C to stop)")
    server.run(sockets=[listening])
    console.print("stopped")


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made before saying "serving": a port in use is one clear line."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as error:
        reason = "the port is in use" if error.errno == errno.EADDRINUSE else error.strerror or str(error)
        raise ListenError(f"cannot listen on {host}:{port}: {reason} (choose another with --port, or stop "
                          f"what holds it)") from None


@cli.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site-url", metavar="URL", help="Where the site will be published (makes feed links absolute).")
@click.option("--no-json", is_flag=True, help="Leave out the JSON mirrors of the pages.")
@pass_context
def site(obj: Context, out: Path, site_url: str | None, no_json: bool) -> None:
    """Write the history site as static files (HTML pages, Atom feeds, raw snapshots, JSON) to OUT, for
    publishing on any web host; links are relative. Search and "as of" forms need `serve`.

    \b
    Example:
      clausewatch site public/ --site-url https://example.org/clausewatch
    """
    from monitor.web.site import export_site

    summary = export_site(obj.engine(), out, site_url=site_url, with_json=not no_json)
    console.print(summary.line(out))


@cli.command()
@click.argument("source_id", metavar="ID")
@at_option("As the document read on this date (or time) [default: latest].", metavar="DATE")
@click.option("--clauses-only", is_flag=True, help="Only the watched clauses, not the whole text.")
@json_option("One JSON document (the same as /api/sources/ID/as-of/DATE).")
@pass_context
def show(obj: Context, source_id: str, at: str | None, clauses_only: bool, as_json: bool) -> None:
    """A document as it read on a date: the version in force, its evidence (snapshot hash, fetch time),
    its watched clauses and its text.

    \b
    Example:
      clausewatch show le-chat-terms-of-service --at 2026-01-01
    """
    from monitor.store import session_scope
    from monitor.web import queries

    at = _date_argument(at)
    try:
        with session_scope(obj.engine()) as session:
            if at:
                data = queries.as_of_page(session, source_id, at)
            else:
                versions = queries.source_page(session, source_id)["latest_seq"]
                if versions is None:
                    raise UsageError(f"source {source_id!r} has no versions yet")
                data = queries.version_page(session, source_id, versions)
    except queries.NotFound as error:
        raise _web_error(error) from None
    if as_json:
        print_json(data)
        return
    source, version = data["source"], data["version"]
    until = version["in_force_until"] or "today"
    console.print(f"[bold]{source['provider']} — {source['title']}[/] ({source['id']})", markup=True)
    console.print(f"version {version['seq']} of {data['latest_seq']}, in force from {version['observed_at']} "
                  f"until {until}" + (f", as of {at}" if at else ""))
    if version["snapshot"]:
        console.print(f"raw snapshot sha256 {version['snapshot']['sha256']}, fetched "
                      f"{version['snapshot']['fetched_at']}")
    console.print(f"cite: {data['cite']}", markup=False)
    table = Table("path", "categories", "text", title=f"{len(data['clauses'])} watched clauses", show_lines=True)
    for clause in data["clauses"]:
        table.add_row(clause["path"] or clause["key"], "\n".join(clause["categories"]), clause["text"])
    print_table(table)
    if not clauses_only:
        console.rule("text")
        console.print(version["text"], markup=False, highlight=False)


@cli.command()
@at_option("As things stood on this date [default: today].", metavar="DATE")
@click.option("--category", "-c", "only", metavar="C", multiple=True,
              help="Only these categories as columns (repeatable) [default: all].")
@json_option("One JSON document (the same as /api/matrix).")
@pass_context
def matrix(obj: Context, at: str | None, only: tuple[str, ...], as_json: bool) -> None:
    """Who restricts what: documents down, clause categories across; each cell the clause that applies,
    since when, and the direction of its last change.

    \b
    Examples:
      clausewatch matrix -c output_training -c competing_use
      clausewatch matrix --at 2026-01-01 --json
    """
    from monitor.store import session_scope
    from monitor.web import overview
    from monitor.web.words import CATEGORY_LABELS

    at = _date_argument(at)
    unknown = [c for c in only if c not in CATEGORY_LABELS]
    if unknown:
        raise UsageError(f"unknown category {unknown[0]!r} (one of: {', '.join(CATEGORY_LABELS)})")
    with session_scope(obj.engine()) as session:
        data = overview.matrix_page(session, at)
    if as_json:
        print_json(data)
        return
    categories = list(only) or data["categories"]
    table = Table("document", *categories, title=f"who restricts what, {'as of ' + at if at else 'today'}",
                  show_lines=True)
    for row in data["rows"]:
        cells: list[Any] = []
        for category in categories:
            cell = row["cells"].get(category)
            if not cell:
                cells.append(Text("—", style="dim"))
                continue
            text = Text(", ".join(c["label"] for c in cell["clauses"][:3]))
            text.append(f"\nsince {'≤' if cell['since_first_version'] else ''}{cell['since'][:10]}", style="dim")
            if cell["last_change"]:
                text.append("\n").append_text(_direction(cell["last_change"]["direction"]))
                text.append(f" {cell['last_change']['observed_at'][:10]}", style="dim")
            cells.append(text)
        label = f"{row['provider']} — {row['title']}\n" + (f"v{row['seq']} {row['observed_at'][:10]}"
                                                            if row["seq"] else "not yet recorded")
        table.add_row(label, *cells)
    print_table(table)
    console.print("since ≤DATE: present from the first recorded version (it may be older)", style="dim")


@cli.command()
@click.option("--by", type=click.Choice(["total", "category", "provider"]), default="total", show_default=True,
              help="Break the months down by category or provider.")
@json_option("One JSON document (the same as /api/trends).")
@pass_context
def trends(obj: Context, by: str, as_json: bool) -> None:
    """How restrictions moved over time: per month, restrictive clauses added and removed, and clauses
    tightened and loosened, across everything watched.

    \b
    Examples:
      clausewatch trends
      clausewatch trends --by provider
    """
    from monitor.store import session_scope
    from monitor.web import overview

    with session_scope(obj.engine()) as session:
        data = overview.trends_page(session, None if by == "total" else by)
    if as_json:
        print_json(data)
        return
    groups = [("everything watched", data["totals"])] if by == "total" else \
        [(g["group"], g["rows"]) for g in data[f"by_{by}"]]
    peak = max([r["more_restrictive"] for _, rows in groups for r in rows]
               + [r["less_restrictive"] for _, rows in groups for r in rows] + [1])
    for name, rows in groups:
        table = Table("month", "added", "removed", "tightened", "loosened", "more ▲ / less ▼ restrictive",
                      title=name)
        for r in rows:
            bar = Text("▲" * _bar(r["more_restrictive"], peak), style="red")
            bar.append(" " if r["more_restrictive"] and r["less_restrictive"] else "")
            bar.append("▼" * _bar(r["less_restrictive"], peak), style="green")
            table.add_row(r["month"], str(r["added"]), str(r["removed"]), str(r["tightened"]), str(r["loosened"]),
                          bar)
        print_table(table)


def _bar(value: int, peak: int) -> int:
    return max(1, round(8 * value / peak)) if value else 0
