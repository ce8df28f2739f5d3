"""The store keeps evidence, not copies: a snapshot for each version (and the first failed capture of a
failing streak); every other capture keeps only its body's SHA-256 and size on its attempt. Both backends."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from monitor.analysis import analyse_body
from monitor.fetch import FetchResult
from monitor.pipeline import FAILED, NEW_VERSION, UNCHANGED, Capture, Recorder, reextract_source
from monitor.sources import Source
from monitor.store import FetchAttempt, Snapshot, Version, connect, init_database, session_scope
from monitor.store.export import export_jsonl
from monitor.store.export_reader import open_export
from monitor.store.import_export import import_records, row_counts

HTML = "text/html; charset=utf-8"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TERMS = """<main><h1>Terms of Use</h1><h2>3. Restrictions</h2><p>You may not:</p><ol>
<li>use Output to develop models that compete with Example, except for a Permitted Exception;</li>
<li>reverse engineer, decompile or disassemble the Services;</li>
<li>use any automated means to scrape data from the Services.</li></ol>
<h2>4. Other</h2><p>{filler}</p></main>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 6
# What a page whose selector no longer matches, or a login wall, gives: a failed capture, never a version.
STUB = "<main><h1>Terms of Use</h1><p>Redirecting to https://example.com/new</p></main>"


def page(nonce: str, main: str = TERMS.format(filler=FILLER)) -> bytes:
    """The page as a real server sends it: a fresh CSRF token and build id on every answer."""
    return (f'<!doctype html><html><head><title>Terms</title><meta name="csrf-token" content="{nonce}"></head>'
            f'<body>{main}<script>window.__BUILD__="{nonce}"</script></body></html>').encode()


def source() -> Source:
    return Source(id="example-terms", provider="Example", title="Terms of Use", url="https://example.com/terms",
                  format="html", select=("main",))


def fetched(body: bytes, minutes: int) -> FetchResult:
    return FetchResult(url="https://example.com/terms", outcome="ok", started_at=T0 + dt.timedelta(minutes=minutes),
                       elapsed_ms=5, body=body, content_type="text/html; charset=utf-8")


def recorder(db_url: str) -> Recorder:
    engine = connect(db_url)
    init_database(engine)
    return Recorder(engine)


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def attempts(rec: Recorder) -> list[tuple]:
    with session_scope(rec.engine) as session:
        return session.execute(select(FetchAttempt.outcome, FetchAttempt.body_sha256, FetchAttempt.bytes,
                                      FetchAttempt.snapshot_id).order_by(FetchAttempt.id)).all()


def snapshot_hashes(rec: Recorder) -> list[str]:
    with session_scope(rec.engine) as session:
        return session.scalars(select(Snapshot.sha256).order_by(Snapshot.id)).all()


def test_captures_differing_only_by_a_nonce_add_an_attempt_each_and_no_second_snapshot(db_url: str) -> None:
    rec = recorder(db_url)
    first, second, third = page("nonce-1"), page("nonce-2"), page("nonce-3")
    assert rec.record(source(), fetched(first, 0)).outcome == NEW_VERSION
    before = row_counts(rec.engine)

    assert rec.record(source(), fetched(second, 1)).outcome == UNCHANGED
    assert rec.record(source(), fetched(third, 2)).outcome == UNCHANGED

    after = row_counts(rec.engine)
    assert after == {**before, "fetch_attempt": before["fetch_attempt"] + 2}  # nothing else grew
    assert snapshot_hashes(rec) == [sha256(first)]
    stored = attempts(rec)
    assert [row[:3] for row in stored] == [("ok", sha256(body), len(body)) for body in (first, second, third)]
    assert stored[0].snapshot_id is not None and stored[1].snapshot_id is None and stored[2].snapshot_id is None


def test_the_version_s_snapshot_is_still_downloadable(db_url: str) -> None:
    from starlette.testclient import TestClient

    from monitor.web import create_app

    rec = recorder(db_url)
    first = page("nonce-1")
    rec.record(source(), fetched(first, 0))
    rec.record(source(), fetched(page("nonce-2"), 1))
    with TestClient(create_app(rec.engine)) as client:
        response = client.get("/sources/example-terms/versions/1/snapshot")
    assert response.status_code == 200
    assert response.content == first and response.headers["X-Content-SHA256"] == sha256(first)
    assert "attachment" in response.headers["Content-Disposition"]


def test_a_body_recorded_only_by_its_hash_is_known_and_not_analysed_again(db_url: str, monkeypatch) -> None:
    import monitor.analysis
    import monitor.pipeline.decide

    rec = recorder(db_url)
    rec.record(source(), fetched(page("nonce-1"), 0))
    second = page("nonce-2")
    rec.record(source(), fetched(second, 1))
    assert sha256(second) in rec.known_bodies(["example-terms"])["example-terms"]

    for module in (monitor.analysis, monitor.pipeline.decide):  # where a body is parsed
        monkeypatch.setattr(module, "extract_document", no_parsing)
    fresh = Recorder(rec.engine)  # as the next `run --once` starts: nothing in memory
    assert fresh.record(source(), fetched(second, 2)).outcome == UNCHANGED
    assert snapshot_hashes(rec) == [sha256(page("nonce-1"))]


def sources(count: int, prefix: str) -> list[Source]:
    return [Source(id=f"{prefix}-{index}", provider="Example", title="Terms of Use", format="html", select=("main",),
                   url=f"https://example.com/{prefix}/{index}") for index in range(count)]


def test_a_batch_finds_the_bodies_it_has_seen_in_a_few_queries_however_many_sources(db_url: str, monkeypatch) -> None:
    # A batch of captures of distinct sources reads what the store has seen of their bodies at once (issue 14:
    # two queries per capture were a third of the CPU of an unchanged cycle). Bodies seen before come back
    # as before, whether kept as a snapshot (the version's own body) or known only by hash (a nonce later).
    import monitor.pipeline.decide

    rec = recorder(db_url)
    monkeypatch.setattr(monitor.pipeline.decide, "extract_document", no_parsing)

    def selects_to_record_again(count: int) -> int:
        batch = sources(count, prefix=f"batch-of-{count}")
        for minutes in (1, 2):  # a version, then the same text under another nonce: known by its hash only
            rec.record_many([Capture(source, fetched(page(f"{source.id}-{minutes}"), minutes),
                                     analysis=analyse_body(page(f"{source.id}-{minutes}"), HTML, source))
                             for source in batch])
        statements: list[str] = []

        def note(connection, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(rec.engine, "before_cursor_execute", note)
        try:
            again = [Capture(source, fetched(page(f"{source.id}-{1 + index % 2}"), 3)) for index, source in enumerate(batch)]
            assert {outcome.outcome for outcome in Recorder(rec.engine).record_many(again)} == {UNCHANGED}
        finally:
            event.remove(rec.engine, "before_cursor_execute", note)
        return sum(1 for statement in statements if statement.lstrip().upper().startswith("SELECT"))

    # Half the bodies are kept as snapshots (4 of 8, 1 of 2), each costing a query for the document it gave;
    # the bodies known by hash only, as a page with a nonce always is, cost none of their own.
    assert selects_to_record_again(8) - selects_to_record_again(2) == 4 - 1


def no_parsing(*args: object, **kwargs: object) -> None:
    raise AssertionError("a body whose text is known was parsed again")


def test_a_failing_streak_keeps_the_body_of_its_first_failed_capture_only(db_url: str) -> None:
    rec = recorder(db_url)
    good = page("nonce-0")
    rec.record(source(), fetched(good, 0))
    stubs = [page(f"stub-{minute}", STUB) for minute in range(1, 4)]
    outcomes = [rec.record(source(), fetched(stub, minute)) for minute, stub in enumerate(stubs, start=1)]
    assert [outcome.outcome for outcome in outcomes] == [FAILED] * 3
    rec.record(source(), fetched(page("nonce-4"), 4))  # recovers: unchanged, no snapshot
    again = page("stub-5", STUB)
    assert rec.record(source(), fetched(again, 5)).outcome == FAILED  # a new streak

    assert snapshot_hashes(rec) == [sha256(good), sha256(stubs[0]), sha256(again)]
    kept = [row.snapshot_id is not None for row in attempts(rec)]
    assert kept == [True, True, False, False, False, True]
    assert all(row.body_sha256 for row in attempts(rec))


def test_reextract_extracts_the_newest_kept_snapshot(db_url: str) -> None:
    rec = recorder(db_url)
    rec.record(source(), fetched(page("nonce-1"), 0))
    rec.record(source(), fetched(page("nonce-2"), 1))
    changed = source().model_copy(update={"remove": ("h1",)})  # a selector change: the heading goes
    outcome = reextract_source(rec, changed)
    assert outcome is not None and outcome.outcome == NEW_VERSION and outcome.version_seq == 2
    with session_scope(rec.engine) as session:
        versions = session.execute(select(Version.seq, Version.technical, Version.snapshot_id)
                                   .order_by(Version.seq)).all()
    assert versions[1].technical and versions[1].snapshot_id == versions[0].snapshot_id
    assert len(snapshot_hashes(rec)) == 1


def test_export_and_import_carry_the_attempts_body_hashes(db_url: str, tmp_path) -> None:
    rec = recorder(db_url)
    rec.record(source(), fetched(page("nonce-1"), 0))
    rec.record(source(), fetched(page("nonce-2"), 1))
    exported = tmp_path / "export.jsonl"
    with exported.open("w", encoding="utf-8") as out:
        export_jsonl(rec.engine, out)
    other = connect(f"sqlite:///{tmp_path / 'imported.db'}")
    init_database(other)
    import_records(other, open_export(str(exported)))
    assert attempts(Recorder(other)) == attempts(rec)


def test_the_migration_gives_earlier_attempts_the_hash_of_their_snapshot(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from monitor.store.db import alembic_config

    engine = connect(db_url)
    config = alembic_config(engine)
    command.upgrade(config, "0004")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO source (id, provider, title, url, kind, config, enabled, failures_in_a_row, created_at) "
            "VALUES ('s', 'P', 'T', 'https://example.com/', 'terms', '{}', true, 0, '2026-01-01 00:00:00')"))
        connection.execute(text(
            "INSERT INTO snapshot (id, source_id, sha256, size, body, first_seen, last_seen) VALUES "
            "(1, 's', :sha, 1, :body, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
            {"sha": "a" * 64, "body": b"x"})
        connection.execute(text(
            "INSERT INTO fetch_attempt (id, source_id, started_at, outcome, bytes, elapsed_ms, snapshot_id) VALUES "
            "(1, 's', '2026-01-01 00:00:00', 'ok', 1, 1, 1), (2, 's', '2026-01-01 00:00:00', 'http_error', 0, 1, NULL)"))
    command.upgrade(config, "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, body_sha256 FROM fetch_attempt ORDER BY id")).all() == [
            (1, bytes.fromhex("a" * 64)), (2, None)]
    # 0009 keeps the hash as its 32 bytes (half the row and index), and its downgrade gives the hex back.
    command.downgrade(config, "0008")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, body_sha256 FROM fetch_attempt ORDER BY id")).all() == [
            (1, "a" * 64), (2, None)]
    command.upgrade(config, "head")
    with Session(engine) as session:
        assert session.execute(select(FetchAttempt.body_sha256).order_by(FetchAttempt.id)).scalars().all() == [
            "a" * 64, None]
