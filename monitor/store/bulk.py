"""Clause rows: a version's `Clause`s in, its `clause` rows out, written in bulk through the driver's executemany.

A version has hundreds of clauses and a first crawl or an import writes tens of thousands of them.
SQLAlchemy's per-row parameter processing and its JSON type's per-value serialisation cost several
times what the driver itself does, so these rows go to the driver with their JSON already written.
The pipeline hands over `Clause`s up to here: they become rows once, when they are written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor.clauses import Clause
from monitor.store.models import ClauseRow

# A row as `_clause_rows` makes it: every column but `id` and `version_id`, in this order.
ROW_COLUMNS = ("position", "key", "path", "label", "heading", "lead", "text", "categories", "rules", "features")
_INSERTED = ("version_id", *ROW_COLUMNS)
# Placeholders of the drivers we ship (sqlite3, psycopg); other drivers get named parameters.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _clause_rows(clauses: Sequence[Clause]) -> list[tuple]:
    """The rows of a version's clauses, in document order, with categories, rules and features as JSON."""
    return [(position, clause.key, clause.path, clause.label, clause.heading, clause.lead, clause.text,
             _json(list(clause.categories)), _json(list(clause.rules)), _json(clause.features))
            for position, clause in enumerate(clauses)]


def insert_clauses(session: Session, version_id: int, clauses: Sequence[Clause]) -> None:
    """Insert one version's clauses, in document order, in the session's transaction."""
    if not clauses:
        return
    rows = _clause_rows(clauses)
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in _INSERTED)
    placeholder = _PLACEHOLDERS.get(connection.dialect.paramstyle)
    if placeholder is None:
        values = ", ".join(f":{name}" for name in _INSERTED)
        session.execute(text(f"INSERT INTO {quote(ClauseRow.__tablename__)} ({columns}) VALUES ({values})"),
                        [dict(zip(_INSERTED, (version_id, *row), strict=True)) for row in rows])
        return
    sql = f"INSERT INTO {quote(ClauseRow.__tablename__)} ({columns}) VALUES ({', '.join([placeholder] * len(_INSERTED))})"
    connection.exec_driver_sql(sql, [(version_id, *row) for row in rows])


def _json(value: Any) -> str:
    # Most clauses are unwatched: no categories, no rules, no features.
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)
