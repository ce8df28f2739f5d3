"""Command line: `can` (registered on the `clausewatch` group): may we do this use, per watched document."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import at_option, err_console, json_option, print_json, print_table
from monitor.timestamps import parse_time
from monitor.uses.model import (ACTS, BASE_MODELS, DISTRIBUTIONS, MODELS, OBJECTS, PARTIES, PLATFORMS, PURPOSES,
                                USES_ENV, Use, find_use, load_uses, use_from_fields)

ANSWER_STYLES = {"forbidden": "bold red", "conditional": "yellow", "allowed": "green", "unclear": "magenta",
                 "not addressed": "dim"}
_FIELD_OPTIONS = ("act", "object", "model", "purpose", "distribution", "party", "base_model", "platform")


def resolve_use(uses_file: str | None, use_id: str, fields: dict[str, Any]) -> tuple[str, Use]:
    """The use to answer and where it came from: USE_ID from the uses file, with any field options applied;
    a use made of field options alone when USE_ID is not in the file and --act and --object are given."""
    file, uses = load_uses(uses_file)
    given = {key: value for key, value in fields.items() if value}
    known = {use.id: use for use in uses}
    if use_id in known:
        use = known[use_id] if not given else use_from_fields({**known[use_id].fields(), **given}, use_id)
        return str(file), use
    if given.get("act") and given.get("object"):
        return "the command line", use_from_fields(given, use_id)
    return str(file), find_use(uses, use_id, file)  # not there: the one-line error listing the known uses


@cli.command("can")
@click.argument("use_id", metavar="USE_ID")
@click.option("--source", "source_id", metavar="ID", help="Only this document.")
@click.option("--provider", metavar="P", help="Only this provider's documents (any case).")
@at_option("As the documents read on this date (default: now).", metavar="DATE")
@click.option("--history", "show_history", is_flag=True,
              help="The dates on which each document's answer changed, instead of today's answer.")
@json_option("One JSON array, one object per document: source, provider, title, answer, version, "
             "observed_at, clauses (key, path, text, role), conditions, reason.")
@click.option("--uses", "uses_file", metavar="PATH",
              help=f"Uses file [env {USES_ENV}; default ./uses.yaml, else the shipped examples].")
@click.option("--act", type=click.Choice(ACTS), help="Override or give the use's act.")
@click.option("--object", "object_", type=click.Choice(OBJECTS), help="Override or give the use's object.")
@click.option("--model", type=click.Choice(MODELS), help="Override or give the kind of model built.")
@click.option("--purpose", type=click.Choice(PURPOSES), help="Override or give the use's purpose.")
@click.option("--distribution", type=click.Choice(DISTRIBUTIONS), help="Who gets the result.")
@click.option("--party", type=click.Choice(PARTIES), help="Who does it.")
@click.option("--base-model", type=click.Choice(BASE_MODELS), help="Whose model is trained.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Where the training runs.")
@pass_context
def can(obj: Context, use_id: str, source_id: str | None, provider: str | None, at: str | None,
        show_history: bool, as_json: bool, uses_file: str | None, **fields: Any) -> None:
    """May we do this? The answer of every watched document to a planned use: forbidden, allowed,
    conditional (with its conditions), not addressed, or unclear (with the reason), and the clauses,
    exceptions and definitions it rests on, from the version in force on the date.

    USE_ID names a use of the uses file; field options change it, or make a new one with --act and
    --object. The file used is named on stderr.

    \b
    Examples:
      clausewatch can internal-classifier --provider ChatGPT
      clausewatch can distil-competitor --at 2025-12-01 --json
      clausewatch can distil-competitor --source meta-llama-community-license --history
      clausewatch can my-use --act fine-tune --object weights --model llm --distribution third-parties
    """
    from monitor.store import session_scope
    from monitor.uses.queries import answer_history, answers_as_of

    fields["object"] = fields.pop("object_")
    origin, use = resolve_use(uses_file, use_id, fields)
    err_console.print(f"use {use.id!r} from {origin}: {use.describe()}", soft_wrap=True, markup=False)
    moment = parse_time(at) if at else None
    with session_scope(obj.engine()) as session:
        if show_history:
            rows = answer_history(session, use, source_id, provider)
        else:
            rows = answers_as_of(session, use, moment, source_id, provider)
    if as_json:
        print_json(rows)
    elif show_history:
        _print_history(rows)
    else:
        _print_answers(rows, at)


def _print_answers(rows: list[dict[str, Any]], at: str | None) -> None:
    title = f"{len(rows)} document{'' if len(rows) == 1 else 's'}{' as of ' + at if at else ''}"
    table = Table("document", "answer", "clauses", "conditions / reason", title=title, show_lines=True)
    for row in rows:
        clauses = "\n".join(f"{clause['path'] or clause['key']} ({clause['role']})" for clause in row["clauses"])
        detail = "\n".join(f"• {condition}" for condition in row["conditions"]) or row["reason"]
        document = Text.assemble(f"{row['provider']} · {row['title']}\n",
                                 (f"{row['source']} v{row['version']}, {row['observed_at'][:10]}", "dim"))
        table.add_row(document, Text(row["answer"], ANSWER_STYLES.get(row["answer"], "")), clauses, detail)
    print_table(table)


def _print_history(rows: list[dict[str, Any]]) -> None:
    table = Table("document", "since", "answer", "clauses", title=f"{len(rows)} document{'' if len(rows) == 1 else 's'}",
                  show_lines=True)
    for row in rows:
        for position, change in enumerate(row["changes"]):
            name = Text.assemble(f"{row['provider']} · {row['title']}\n", (row["source"], "dim")) if position == 0 else ""
            since = f"{change['observed_at'][:10]} (v{change['version']})"
            answer = Text(change["answer"], ANSWER_STYLES.get(change["answer"], ""))
            if change["previous"]:
                answer = Text(f"{change['previous']} → ") + answer
            clauses = ", ".join(clause["path"] or clause["key"] for clause in change["clauses"])
            table.add_row(name, since, answer, clauses)
    print_table(table)
