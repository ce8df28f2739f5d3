"""Bulk writes: a new version's clauses in, its clause rows out, through the driver's executemany.

A version has hundreds of clauses and a first crawl or an import writes tens of thousands of them.
SQLAlchemy's per-row parameter processing and its JSON type's per-value serialisation cost several
times what the driver itself does, so these rows go to the driver with their JSON already written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from monitor.clauses import Clause
from monitor.store.models import ClauseRow

_CLAUSE_COLUMNS = ("version_id", "position", "key", "path", "label", "heading", "lead", "text", "categories",
                   "rules", "features")
# Placeholders of the drivers we ship (sqlite3, psycopg); any other driver goes through SQLAlchemy.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_clauses(session: Session, version_id: int, clauses: Sequence[Clause]) -> None:
    """Insert the clause rows of one version, in document order, in the session's transaction."""
    if not clauses:
        return
    connection = session.connection()
    placeholder = _PLACEHOLDERS.get(connection.dialect.paramstyle)
    if placeholder is None:
        connection.execute(ClauseRow.__table__.insert(), [
            dict(zip(_CLAUSE_COLUMNS, _clause_row(version_id, position, clause), strict=True))
            for position, clause in enumerate(clauses)])
        return
    quote = connection.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(ClauseRow.__tablename__)} ({', '.join(quote(name) for name in _CLAUSE_COLUMNS)}) "
           f"VALUES ({', '.join([placeholder] * len(_CLAUSE_COLUMNS))})")
    connection.exec_driver_sql(sql, [_clause_row(version_id, position, clause, _json)
                                     for position, clause in enumerate(clauses)])


def _clause_row(version_id: int, position: int, clause: Clause, encode: Any = lambda value: value) -> tuple:
    return (version_id, position, clause.key, clause.path, clause.label, clause.heading, clause.lead, clause.text,
            encode(list(clause.categories)), encode(list(clause.rules)), encode(clause.features))


def _json(value: Any) -> str:
    # Most clauses are unwatched: no categories, no rules, no features.
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)
