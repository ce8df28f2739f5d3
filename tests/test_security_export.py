"""Tampered exports and the static site (issue 18, items 4, 5 and the export half of 9): `import-export`
refuses a bad record in one line, `site` writes nothing outside OUT, and raw snapshots are downloads."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import SourceRow, connect, init_database, session_scope
from monitor.web.app import SECURITY_HEADERS

STAMP = "2025-01-02T03-04-05Z"
PAGE = ("<!doctype html><html><head><title>Terms</title></head><body><main><h1>Terms of Use</h1>"
        "<script>document.title = 'pwned'</script>"
        + "".join(f"<p>{number}. You may not use Output to develop models that compete with us, in any way, "
                  f"for any purpose number {number}. We may update these Terms.</p>" for number in range(6))
        + "</main></body></html>")


def invoke(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(cli, list(args))
    assert not isinstance(done.exception, Exception) or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.output


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    """A database with one imported HTML document, and its export as parsed JSON lines."""
    folder = tmp_path_factory.mktemp("export")
    document = folder / "dataset" / "Example" / "Terms of Use"
    document.mkdir(parents=True)
    (document / f"{STAMP}.html").write_text(PAGE)
    db = f"sqlite:///{folder / 'source.db'}"
    code, output = invoke("--db", db, "import", str(folder / "dataset"))
    assert code == 0, output
    code, _ = invoke("--db", db, "export", "-o", str(folder / "history.jsonl"))
    assert code == 0
    lines = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    return db, lines


def import_tampered(tmp_path: Path, lines: list[dict], table: str, change: dict) -> tuple[int, str]:
    tampered = []
    for line in lines:
        if line.get("table") == table:
            line = {**line, "row": {**line["row"], **change}}
        tampered.append(line)
    path = tmp_path / "tampered.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in tampered))
    return invoke("--db", f"sqlite:///{tmp_path / 'target.db'}", "import-export", str(path))


def test_untampered_export_imports(tmp_path: Path, exported: tuple[str, list[dict]]) -> None:
    code, output = import_tampered(tmp_path, exported[1], "none", {})
    assert code == 0, output


@pytest.mark.parametrize("table,change,expected", [
    ("source", {"id": "../../evil"}, "is not a source id"),
    ("source", {"url": "javascript:alert(document.domain)"}, "is not an http(s) URL"),
    ("source", {"title": "T" * 301}, "more than the column's 300"),
    ("source", {"provider": "Ex\u0000ample"}, "NUL"),
    ("version", {"seq": "abc"}, "'abc' is not an integer"),
    ("version", {"seq": 2**70}, "is not an integer"),
    ("snapshot", {"body": base64.b64encode(b"<script>alert(1)</script>").decode()}, "SHA-256"),
    ("source", {"enabled": "yes"}, "is not true or false"),
])
def test_tampered_record_is_refused_in_one_line(tmp_path: Path, exported: tuple[str, list[dict]], table: str,
                                                change: dict, expected: str) -> None:
    code, output = import_tampered(tmp_path, exported[1], table, change)
    assert code != 0
    assert expected in output and f"table {table}" in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    engine = connect(f"sqlite:///{tmp_path / 'target.db'}")
    init_database(engine)
    with session_scope(engine) as session:
        assert session.query(SourceRow).count() == 0  # one transaction: nothing half-imported


def test_site_refuses_to_write_outside_out(tmp_path: Path, exported: tuple[str, list[dict]]) -> None:
    db = f"sqlite:///{tmp_path / 'evil.db'}"
    engine = connect(db)
    init_database(engine)
    import datetime as dt

    with session_scope(engine) as session:  # a database that something other than validation wrote
        session.add(SourceRow(id="../../escaped", provider="P", title="T", url="https://example.org/",
                              config={}, created_at=dt.datetime.now(dt.timezone.utc)))
    out = tmp_path / "deep" / "er" / "public"
    code, output = invoke("--db", db, "site", str(out))
    assert code != 0 and "outside" in output
    assert not (tmp_path / "deep" / "escaped").exists() and not (tmp_path / "deep" / "feeds").exists()
    assert sorted(path.name for path in (tmp_path / "deep").iterdir()) == ["er"]


def test_static_site_snapshots_are_downloads_and_pages_carry_the_csp(tmp_path: Path,
                                                                     exported: tuple[str, list[dict]]) -> None:
    out = tmp_path / "public"
    code, output = invoke("--db", exported[0], "site", str(out))
    assert code == 0, output
    snapshots = [path for path in out.rglob("*") if path.is_file() and "snapshot" in path.name]
    assert snapshots and all(path.name.endswith(".html.txt") for path in snapshots), snapshots
    assert b"<script>" in snapshots[0].read_bytes()  # the raw bytes, kept as evidence
    version_page = next(out.glob("sources/*/versions/1/index.html")).read_text()
    assert re.search(r'href="[^"]*snapshot\.html\.txt" download', version_page)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    for page in out.rglob("*.html"):
        assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in page.read_text(), page
