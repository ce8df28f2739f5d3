"""Export files: a path (a CSV zip, a JSON-lines file, gzipped or not, or '-' for stdin) in, its (table, row)
records out, one at a time; a file cut short or not an export is a UsageError saying so."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from monitor.errors import UsageError
from monitor.store.portable import check_header, column_of, from_cell, tables

__all__ = ["open_export"]


def open_export(path: str, stdin: IO[bytes] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records of an export file: a CSV zip, a JSON-lines file, gzipped or not ('-' for stdin); a file
    cut short (a copy that stopped, a full disk) is a UsageError saying so."""
    name = "stdin" if path == "-" else path
    try:
        yield from _read_export(path, stdin)
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as error:
        raise UsageError(f"{name}: the export is truncated or damaged ({error}); export it again") from None
    except UsageError as error:
        raise UsageError(f"{name}: {error}") from None


def _read_export(path: str, stdin: IO[bytes] | None) -> Iterator[tuple[str, dict[str, Any]]]:
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


def _records_jsonl(stream: IO[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    header_line = stream.readline()
    check_header(_json_line(header_line, 1))
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
        if not line.endswith("\n"):  # every line an export writes ends with one: the file was cut here
            raise UsageError(f"line {number}: the file ends in the middle of a record: the export is "
                             f"truncated; export it again") from None
        raise UsageError(f"line {number}: not JSON ({error.msg})") from None


def _records_csv_zip(archive: zipfile.ZipFile) -> Iterator[tuple[str, dict[str, Any]]]:
    names = set(archive.namelist())
    if "manifest.json" not in names:
        raise UsageError("not a ClauseWatch CSV export: manifest.json is missing from the zip")
    check_header(json.loads(archive.read("manifest.json")))
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
            columns = [column_of(table, name) for name in header]
            for number, cells in enumerate(reader, start=2):
                try:
                    row = {column.name: from_cell(column, cell) for column, cell in zip(columns, cells)}
                except ValueError as error:
                    raise UsageError(f"{table.name}.csv, line {number}: bad value ({error})") from None
                yield table.name, row
