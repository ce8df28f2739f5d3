"""Portability: the export format (its header, and each column's value as JSON or a CSV cell holds it) that
carries a database's whole history out (`export.py`) and back, into an empty database of any dialect (SQLite <->
PostgreSQL), with the same ids (`export_reader.py`, `import_export.py`).

Every table of the models is exported, parents before children, column by column, so a column added by
a migration is carried without code here. Values: times ISO 8601 UTC (microseconds, `Z`); snapshot
bodies the raw bytes as fetched, base64 (decompressed, so the export is readable without ClauseWatch);
JSON columns as JSON. The JSON form is JSON lines, not one document: export and import stream row by
row, so a history of thousands of snapshots never sits in memory whole, and `grep`/`jq -c` work on it.

    {"format": "clausewatch-export", "version": 1, "schema": "<alembic revision>", "tables": {...}}
    {"table": "source", "row": {...}}
    ...

An export is read as untrusted, as strictly as sources.yaml: every value must fit its column (type,
length, no NUL), source ids are slugs, source URLs http(s) (or file: for imported history), and each
snapshot's body must hash to its SHA-256; the first bad record stops the import with one line naming it.

The CSV form is a zip holding `manifest.json` (the header above) and one `<table>.csv` per table; NULL
is written `\\N`, and a text starting with a backslash gets one more.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, LargeBinary, Table

from monitor.errors import UsageError
from monitor.store.models import Base, UtcDateTime

__all__ = ["BATCH", "FORMAT_NAME", "FORMAT_VERSION", "NULL", "PortableReport", "check_header", "column_of",
           "export_header", "from_cell", "from_plain", "tables", "to_cell", "to_plain"]

FORMAT_NAME = "clausewatch-export"
FORMAT_VERSION = 1
NULL = "\\N"
BATCH = 500
# Stored zlib-compressed, exported as the raw body.
_COMPRESSED = {("snapshot", "body")}
_ZLIB_LEVEL = 6  # as the pipeline stores them


@dataclass
class PortableReport:
    """Rows per table written or read."""

    tables: dict[str, int] = field(default_factory=dict)
    schema: str | None = None

    def line(self, verb: str) -> str:
        return f"{verb} " + ", ".join(f"{name} {count}" for name, count in self.tables.items())


def tables() -> list[Table]:
    """Every table, parents before children (foreign keys point backwards in this list)."""
    return [table for table in Base.metadata.sorted_tables if table.name != "alembic_version"]


def to_plain(table: Table, column: Column, value: Any) -> Any:
    """A column's value as JSON can hold it."""
    if value is None:
        return None
    if isinstance(column.type, UtcDateTime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(column.type, LargeBinary):
        if (table.name, column.name) in _COMPRESSED:
            value = zlib.decompress(value)
        return base64.b64encode(value).decode("ascii")
    return value


def from_plain(table: Table, column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UtcDateTime):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    if isinstance(column.type, LargeBinary):
        raw = base64.b64decode(value)
        return zlib.compress(raw, _ZLIB_LEVEL) if (table.name, column.name) in _COMPRESSED else raw
    return value


def to_cell(column: Column, value: Any) -> str:
    """A plain value as one CSV cell (JSON columns as JSON text, booleans true/false)."""
    if value is None:
        return NULL
    if isinstance(column.type, JSON):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(column.type, Boolean):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith("\\"):
        return "\\" + value
    return str(value)


def from_cell(column: Column, cell: str) -> Any:
    if cell == NULL:
        return None
    if isinstance(column.type, JSON):
        return json.loads(cell)
    if isinstance(column.type, Boolean):
        return cell == "true"
    if isinstance(column.type, Integer):
        return int(cell)
    return cell[1:] if cell.startswith("\\") else cell


def column_of(table: Table, name: str) -> Column:
    if name not in table.columns:
        raise UsageError(f"table {table.name}: no column {name!r} in this ClauseWatch's schema")
    return table.columns[name]


def export_header(report: PortableReport, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "schema": report.schema,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tables": {table.name: [column.name for column in table.columns] for table in tables()},
            **({"rows": counts} if counts is not None else {})}


def check_header(header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise UsageError(f"not a ClauseWatch export (the first line or manifest.json must say "
                         f"\"format\": \"{FORMAT_NAME}\")")
    if header.get("version") != FORMAT_VERSION:
        raise UsageError(f"export format version {header.get('version')!r}; this ClauseWatch reads {FORMAT_VERSION}")
