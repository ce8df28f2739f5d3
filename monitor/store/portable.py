"""Portability: a database in, its whole history as JSON lines or CSV files (zip) out; and back, into an
empty database of any dialect (SQLite <-> PostgreSQL), with the same ids.

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
import binascii
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import (JSON, Boolean, Column, Engine, Integer, LargeBinary, String, Table, Text, func, insert,
                        select, text)
from sqlalchemy.exc import IntegrityError

from monitor.errors import UsageError
from monitor.store.db import current_revision
from monitor.store.models import Base, UtcDateTime

FORMAT_NAME = "clausewatch-export"
FORMAT_VERSION = 1
NULL = "\\N"
_BATCH = 500
# Stored zlib-compressed, exported as the raw body.
_COMPRESSED = {("snapshot", "body")}
_ZLIB_LEVEL = 6  # as the pipeline stores them
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
# http(s) as in sources.yaml; empty for imported history no registry entry names (and file: as older
# versions of `clausewatch import` recorded it).
_SOURCE_URL = re.compile(r"^(https?://[^/\s]+\S*|file:///[^\x00-\x1f\x7f]*|)$")
_INT_RANGE = (-(2**63), 2**63 - 1)


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


# ------------------------------------------------------------------------------- values


def _to_plain(table: Table, column: Column, value: Any) -> Any:
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


def _from_plain(table: Table, column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UtcDateTime):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    if isinstance(column.type, LargeBinary):
        raw = base64.b64decode(value)
        return zlib.compress(raw, _ZLIB_LEVEL) if (table.name, column.name) in _COMPRESSED else raw
    return value


def _to_cell(column: Column, value: Any) -> str:
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


def _from_cell(column: Column, cell: str) -> Any:
    if cell == NULL:
        return None
    if isinstance(column.type, JSON):
        return json.loads(cell)
    if isinstance(column.type, Boolean):
        return cell == "true"
    if isinstance(column.type, Integer):
        return int(cell)
    return cell[1:] if cell.startswith("\\") else cell


# ------------------------------------------------------------------------------- export


def _rows(engine: Engine, report: PortableReport) -> Iterator[tuple[Table, dict[str, Any]]]:
    """Every row of every table as plain values, read in one consistent view.

    PostgreSQL reads in one REPEATABLE READ transaction. SQLite gives no snapshot across statements to
    a plain connection, so each table is also cut at the highest id it had when the export began: a row
    written meanwhile (by a running daemon) is left out whole, never half (a version without its snapshot).
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            ceilings = {}
            for table in tables():
                key = list(table.primary_key.columns)[0]
                if isinstance(key.type, Integer):
                    ceilings[table.name] = connection.execute(select(func.max(key))).scalar() or 0
            for table in tables():
                key = list(table.primary_key.columns)[0]
                query = select(table).order_by(*table.primary_key.columns)
                if table.name in ceilings:
                    query = query.where(key <= ceilings[table.name])
                count = 0
                for row in connection.execution_options(stream_results=True, yield_per=_BATCH).execute(query):
                    count += 1
                    yield table, {column.name: _to_plain(table, column, row._mapping[column.name])
                                  for column in table.columns}
                report.tables[table.name] = count


def _header(report: PortableReport, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "schema": report.schema,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tables": {table.name: [column.name for column in table.columns] for table in tables()},
            **({"rows": counts} if counts is not None else {})}


def export_jsonl(engine: Engine, out: IO[str]) -> PortableReport:
    """Write the header line, then one line per row ({"table": ..., "row": {...}})."""
    report = PortableReport(schema=current_revision(engine))
    out.write(json.dumps(_header(report), ensure_ascii=False) + "\n")
    for table, row in _rows(engine, report):
        out.write(json.dumps({"table": table.name, "row": row}, ensure_ascii=False) + "\n")
    return report


def export_csv_zip(engine: Engine, out: IO[bytes]) -> PortableReport:
    """Write a zip of `manifest.json` and one `<table>.csv` per table (header row = column names)."""
    report = PortableReport(schema=current_revision(engine))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        writers: dict[str, Any] = {}
        files: dict[str, Any] = {}
        try:
            for table, row in _rows(engine, report):
                if table.name not in writers:
                    _close(files)
                    files[table.name] = io.TextIOWrapper(archive.open(f"{table.name}.csv", "w"), encoding="utf-8",
                                                         newline="")
                    writers[table.name] = csv.writer(files[table.name])
                    writers[table.name].writerow([column.name for column in table.columns])
                writers[table.name].writerow([_to_cell(column, row[column.name]) for column in table.columns])
            _close(files)
            for table in tables():  # an empty table still gets its file, with the header row
                if table.name not in writers:
                    with io.TextIOWrapper(archive.open(f"{table.name}.csv", "w"), encoding="utf-8",
                                          newline="") as empty:
                        csv.writer(empty).writerow([column.name for column in table.columns])
        finally:
            _close(files)
        archive.writestr("manifest.json", json.dumps(_header(report, report.tables), indent=1))
    return report


def _close(files: dict[str, Any]) -> None:
    for handle in files.values():
        if not handle.closed:
            handle.close()


# ------------------------------------------------------------------------------- import


def _records_jsonl(stream: IO[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    header_line = stream.readline()
    _check_header(_json_line(header_line, 1))
    for number, line in enumerate(stream, start=2):
        if not line.strip():
            continue
        record = _json_line(line, number)
        if not isinstance(record, dict) or "table" not in record or not isinstance(record.get("row"), dict):
            raise UsageError(f"line {number}: not an export record ({{\"table\": ..., \"row\": {{...}}}})")
        yield record["table"], record["row"]


def _json_line(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise UsageError(f"line {number}: not JSON ({error.msg})") from None


def _records_csv_zip(archive: zipfile.ZipFile) -> Iterator[tuple[str, dict[str, Any]]]:
    names = set(archive.namelist())
    if "manifest.json" not in names:
        raise UsageError("not a ClauseWatch CSV export: manifest.json is missing from the zip")
    _check_header(json.loads(archive.read("manifest.json")))
    csv.field_size_limit(2**31 - 1)  # a snapshot body is one cell, often larger than the 128 KiB default
    known = {table.name: table for table in tables()}
    for name in sorted(names - {"manifest.json"}):
        if not name.endswith(".csv") or name[:-4] not in known:
            raise UsageError(f"{name}: not a table of this ClauseWatch")
    for table in tables():
        if f"{table.name}.csv" not in names:
            continue
        with io.TextIOWrapper(archive.open(f"{table.name}.csv"), encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            columns = [_column(table, name) for name in header]
            for number, cells in enumerate(reader, start=2):
                try:
                    row = {column.name: _from_cell(column, cell) for column, cell in zip(columns, cells)}
                except ValueError as error:
                    raise UsageError(f"{table.name}.csv, line {number}: bad value ({error})") from None
                yield table.name, row


def _column(table: Table, name: str) -> Column:
    if name not in table.columns:
        raise UsageError(f"table {table.name}: no column {name!r} in this ClauseWatch's schema")
    return table.columns[name]


def _check_header(header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise UsageError(f"not a ClauseWatch export (the first line or manifest.json must say "
                         f"\"format\": \"{FORMAT_NAME}\")")
    if header.get("version") != FORMAT_VERSION:
        raise UsageError(f"export format version {header.get('version')!r}; this ClauseWatch reads {FORMAT_VERSION}")


def open_export(path: str, stdin: IO[bytes] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records of an export file: a CSV zip, a JSON-lines file, gzipped or not ('-' for stdin)."""
    if path == "-":
        assert stdin is not None
        yield from _records_jsonl(io.TextIOWrapper(stdin, encoding="utf-8"))
        return
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic.startswith(b"PK"):
        with zipfile.ZipFile(path) as archive:
            yield from _records_csv_zip(archive)
    elif magic.startswith(b"\x1f\x8b"):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            yield from _records_jsonl(stream)
    else:
        with open(path, encoding="utf-8") as stream:
            yield from _records_jsonl(stream)


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
                values = {column_name: _from_plain(table, _column(table, column_name), value)
                          for column_name, value in row.items()}
            except (ValueError, TypeError, AttributeError, binascii.Error) as error:
                raise UsageError(f"table {name}, row {_row_name(row)}: {error}") from None
            if table.name == "snapshot":
                _check_snapshot_hash(row, values)
            batch.append(values)
            if len(batch) >= _BATCH:
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
        column = _column(table, column_name)
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
