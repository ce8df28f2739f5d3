"""Command line: the reading commands (registered on the `clausewatch` group): clauses, changes, history
and diff, over what the store holds."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import at_option, console, json_option, print_json, print_table
from monitor.errors import UsageError
from monitor.timestamps import parse_time


@cli.command()
@click.argument("source_id", metavar="[ID]", required=False)
@click.option("--category", "-c", metavar="C", help="Only clauses of this taxonomy category.")
@at_option("As the documents read at this time.")
@click.option("--all", "all_clauses", is_flag=True, help="Every clause, not only the watched ones.")
@json_option("One JSON array (fields in the README).")
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
        print_json(rows)
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
@json_option("One JSON array, oldest first (fields in the README).")
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
        print_json(rows)
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
@json_option("One JSON document.")
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
        print_json({"source": source_id, "versions": versions, "events": events, "attempts": attempts})
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
        print_json({"source": source_id, "from": from_seq, "to": to_seq, "diff": [list(op) for op in ops]})
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

