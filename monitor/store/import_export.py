"""Importing an export: its records in, read as untrusted (every value must fit its column, source ids are slugs
and URLs http(s), each snapshot's body must hash to its SHA-256), inserted with their ids into an empty
database in one transaction; the first bad record stops the import with one line naming it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Boolean, Column, Engine, Integer, LargeBinary, String, Table, Text, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from monitor.errors import UsageError
from monitor.store.models import UtcDateTime
from monitor.store.portable import BATCH, PortableReport, column_of, from_plain, tables

__all__ = ["import_records", "row_counts"]

_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
# http(s) as in sources.yaml; empty for imported history no registry entry names (and file: as older
# versions of `clausewatch import` recorded it).
_SOURCE_URL = re.compile(r"^(https?://[^/\s]+\S*|file:///[^\x00-\x1f\x7f]*|)$")
_INT_RANGE = (-(2**63), 2**63 - 1)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per non-empty table (empty dict when the database holds no history)."""
    counts = {}
    with engine.connect() as connection:
        for table in tables():
            count = connection.execute(select(func.count()).select_from(table)).scalar() or 0
            if count:
                counts[table.name] = count
    return counts


def import_records(engine: Engine, records: Iterator[tuple[str, dict[str, Any]]]) -> PortableReport:
    """Insert exported rows, with their ids, into an empty database, in one transaction.

    Tables must come parents first (as every export writes them). On PostgreSQL the id sequences are
    moved past the imported ids, so the next capture gets a fresh id.
    """
    non_empty = row_counts(engine)
    if non_empty:
        raise UsageError("import-export needs an empty database (after `clausewatch init`); this one has "
                         + ", ".join(f"{count} {name}" for name, count in non_empty.items()))
    report = PortableReport()
    try:
        _insert_all(engine, records, report)
    except IntegrityError as error:
        raise UsageError(f"the export is not consistent: {' '.join(str(error.orig).split())[:300]}") from None
    for table in tables():
        report.tables.setdefault(table.name, 0)
    report.tables = {table.name: report.tables[table.name] for table in tables()}
    return report


def _insert_all(engine: Engine, records: Iterator[tuple[str, dict[str, Any]]], report: PortableReport) -> None:
    known = {table.name: table for table in tables()}
    order = [table.name for table in tables()]
    with engine.begin() as connection:
        batch: list[dict[str, Any]] = []
        current: Table | None = None
        done: set[str] = set()

        def flush() -> None:
            if batch and current is not None:
                connection.execute(insert(current), batch)
                report.tables[current.name] = report.tables.get(current.name, 0) + len(batch)
                batch.clear()

        for name, row in records:
            table = known.get(name)
            if table is None:
                raise UsageError(f"table {name!r} is not in this ClauseWatch's schema")
            if current is None or table.name != current.name:
                flush()
                if current is not None:
                    done.add(current.name)
                if table.name in done or any(later in done for later in order[order.index(table.name) + 1:]):
                    raise UsageError(f"table {name!r} comes out of order (parents must come before children)")
                current = table
            try:
                _check_row(table, row)
                values = {column_name: from_plain(table, column_of(table, column_name), value)
                          for column_name, value in row.items()}
            except (ValueError, TypeError, AttributeError, binascii.Error) as error:
                raise UsageError(f"table {name}, row {_row_name(row)}: {error}") from None
            if table.name == "snapshot":
                _check_snapshot_hash(row, values)
            batch.append(values)
            if len(batch) >= BATCH:
                flush()
        flush()
        if connection.dialect.name == "postgresql":
            for table in tables():
                key = list(table.primary_key.columns)[0]
                if isinstance(key.type, Integer) and report.tables.get(table.name):
                    connection.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'), "
                        f'(SELECT max("{key.name}") FROM "{table.name}"))'))


# ------------------------------------------------------------------------------- validation


def _row_name(row: dict[str, Any]) -> str:
    return repr(str(row.get("id"))[:80])


def _check_row(table: Table, row: dict[str, Any]) -> None:
    """Raise ValueError naming the first value that does not fit its column (type, length, NUL, required)."""
    for column_name, value in row.items():
        column = column_of(table, column_name)
        if value is None:
            if not column.nullable and not column.primary_key:
                raise ValueError(f"column {column_name!r} is required")
            continue
        _check_value(column, value)
    if table.name == "source":
        _check_source(row)


def _check_value(column: Column, value: Any) -> None:
    kind = column.type
    where = f"column {column.name!r}"
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {value!r} is not true or false")
    elif isinstance(kind, Integer):
        if isinstance(value, bool) or not isinstance(value, int) or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValueError(f"{where}: {str(value)[:40]!r} is not an integer")
    elif isinstance(kind, (String, Text, UtcDateTime, LargeBinary)):
        if not isinstance(value, str):
            raise ValueError(f"{where}: {str(value)[:40]!r} is not a string")
        if "\x00" in value:
            raise ValueError(f"{where}: holds a NUL character")
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            raise ValueError(f"{where}: {len(value)} characters, more than the column's {length}")


def _check_source(row: dict[str, Any]) -> None:
    source_id, url = row.get("id"), row.get("url")
    if not isinstance(source_id, str) or not _SOURCE_ID.match(source_id):
        raise ValueError(f"column 'id': {str(source_id)[:80]!r} is not a source id (a-z, 0-9, '.', '_', '-')")
    if not isinstance(url, str) or not _SOURCE_URL.match(url):
        raise ValueError(f"column 'url': {str(url)[:80]!r} is not an http(s) URL")
    if row.get("config") is not None and not isinstance(row["config"], dict):
        raise ValueError("column 'config': not a mapping")


def _check_snapshot_hash(row: dict[str, Any], values: dict[str, Any]) -> None:
    if values.get("body") is None:
        return
    actual = hashlib.sha256(base64.b64decode(row["body"])).hexdigest()
    if actual != row.get("sha256"):
        raise UsageError(f"table snapshot, row {_row_name(row)}: the body's SHA-256 is {actual}, not the "
                         f"recorded {str(row.get('sha256'))[:64]!r} (tampered or damaged)")
