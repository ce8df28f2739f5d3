"""Export: a database in, its whole history out as JSON lines (one header line, then one line per row) or as a
zip of `manifest.json` and one CSV file per table (the format: `portable.py`)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import Engine, Integer, Table, func, select

from monitor.store.db import current_revision
from monitor.store.portable import BATCH, PortableReport, export_header, tables, to_cell, to_plain

__all__ = ["export_csv_zip", "export_jsonl"]


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
                for row in connection.execution_options(stream_results=True, yield_per=BATCH).execute(query):
                    count += 1
                    yield table, {column.name: to_plain(table, column, row._mapping[column.name])
                                  for column in table.columns}
                report.tables[table.name] = count


def export_jsonl(engine: Engine, out: IO[str]) -> PortableReport:
    """Write the header line, then one line per row ({"table": ..., "row": {...}})."""
    report = PortableReport(schema=current_revision(engine))
    out.write(json.dumps(export_header(report), ensure_ascii=False) + "\n")
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
                writers[table.name].writerow([to_cell(column, row[column.name]) for column in table.columns])
            _close(files)
            for table in tables():  # an empty table still gets its file, with the header row
                if table.name not in writers:
                    with io.TextIOWrapper(archive.open(f"{table.name}.csv", "w"), encoding="utf-8",
                                          newline="") as empty:
                        csv.writer(empty).writerow([column.name for column in table.columns])
        finally:
            _close(files)
        archive.writestr("manifest.json", json.dumps(export_header(report, report.tables), indent=1))
    return report


def _close(files: dict[str, Any]) -> None:
    for handle in files.values():
        if not handle.closed:
            handle.close()
