"""Analysis and storing in worker processes: the same history as the main process alone stores, every capture
logged and alerted on by the main process, and no capture lost when a worker fails or dies."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import REPO, LocalServer
from monitor.analysis import AnalysisPool, analyse_body, analysis_processes, shared_pool
from monitor.errors import ConfigError
from monitor.fetch import FetchSettings
import monitor.pipeline.recorder
from monitor.pipeline import Recorder, run_cycle
from monitor.sources import Source, find_source, load_sources
from monitor.store import ChangeEvent, ClauseRow, FetchAttempt, Snapshot, Version, connect, init_database, \
    session_scope

LE_CHAT = "genai-eu-snapshots/Le Chat/Terms of Service"
LLAMA_ERROR_PAGE = "genai-eu-snapshots/Llama API/Terms of Service #legal-terms-of-service/2025-11-11T15-33-45Z.html"
LLAMA_3 = "licenses/meta-llama/llama3-license"
LLAMA_3_1 = "licenses/meta-llama/llama3_1-license"
SETTINGS = FetchSettings(respect_robots=False, retries=0, concurrency=8, per_host=8)
HTML, TEXT = "text/html; charset=utf-8", "text/plain; charset=utf-8"


def only_file(folder: Path) -> Path:
    return sorted(folder.iterdir())[0]


def cycles(corpus: Path) -> list[dict[str, tuple[bytes, str]]]:
    """Path -> (body, content type) served in each cycle: real terms that change, a licence rewritten,
    an error page, a page without its expected phrase."""
    le_chat = corpus / LE_CHAT
    first = {
        "/le-chat": ((le_chat / "2025-11-11T15-33-06Z.html").read_bytes(), HTML),
        "/llama": (only_file(corpus / LLAMA_3).read_bytes(), TEXT),
        "/flaky": ((le_chat / "2025-11-28T11-35-32Z.html").read_bytes(), HTML),
        "/expects": ((le_chat / "2025-11-11T15-33-06Z.html").read_bytes(), HTML),
    }
    second = {
        "/le-chat": ((le_chat / "2025-12-15T23-34-51Z.html").read_bytes(), HTML),
        "/llama": (only_file(corpus / LLAMA_3_1).read_bytes(), TEXT),
        "/flaky": ((corpus / LLAMA_ERROR_PAGE).read_bytes(), HTML),
        "/expects": ((le_chat / "2025-12-15T23-34-51Z.html").read_bytes(), HTML),
    }
    return [first, second]


def sources(server: LocalServer) -> list[Source]:
    """Le Chat's shipped source (its real selectors) three times over, and a licence served as text."""
    shipped = find_source(load_sources(REPO / "sources.yaml"), "mistral-eu-consumer-terms")
    local = {"allow_private": True, "respect_robots": False}
    return [
        shipped.model_copy(update={"id": "le-chat", "url": server.url("/le-chat"), **local}),
        Source(id="llama", provider="Meta", title="Llama licence", url=server.url("/llama"), kind="license",
               format="text", **local),
        shipped.model_copy(update={"id": "flaky", "url": server.url("/flaky"), **local}),
        shipped.model_copy(update={"id": "expects", "url": server.url("/expects"),
                                   "expect": "Effective 27 May 2025", **local}),
    ]


def serve(server: LocalServer, pages: dict[str, tuple[bytes, str]]) -> None:
    for path, (body, content_type) in pages.items():
        server.serve(path, body, content_type)


def history(db_url: str) -> dict[str, list[tuple]]:
    """Everything a cycle stores, without row ids and clock times."""
    engine = connect(db_url)
    with session_scope(engine) as session:
        dump = {
            "attempts": session.execute(select(FetchAttempt.source_id, FetchAttempt.outcome, FetchAttempt.error,
                                               FetchAttempt.bytes).order_by(FetchAttempt.source_id,
                                                                            FetchAttempt.id)).all(),
            "snapshots": session.execute(select(Snapshot.source_id, Snapshot.sha256, Snapshot.body)
                                         .order_by(Snapshot.source_id, Snapshot.id)).all(),
            "versions": session.execute(select(Version.source_id, Version.seq, Version.title, Version.text,
                                               Version.revert_of_seq).order_by(Version.source_id, Version.seq)).all(),
            "clauses": session.execute(
                select(Version.source_id, Version.seq, ClauseRow.position, ClauseRow.key, ClauseRow.path,
                       ClauseRow.label, ClauseRow.heading, ClauseRow.lead, ClauseRow.text, ClauseRow.categories,
                       ClauseRow.rules, ClauseRow.features)
                .join(Version, ClauseRow.version_id == Version.id)
                .order_by(Version.source_id, Version.seq, ClauseRow.position)).all(),
            "events": session.execute(
                select(ChangeEvent.source_id, ChangeEvent.key, ChangeEvent.kind, ChangeEvent.categories,
                       ChangeEvent.direction, ChangeEvent.reason, ChangeEvent.before, ChangeEvent.after,
                       ChangeEvent.diff, ChangeEvent.alert)
                .order_by(ChangeEvent.source_id, ChangeEvent.key, ChangeEvent.kind)).all(),
        }
    engine.dispose()
    # Sorted here, not by the database: PostgreSQL and SQLite collate text differently.
    return {name: sorted((tuple(row) for row in rows), key=repr) for name, rows in dump.items()}


def crawl(db_url: str, server: LocalServer, corpus: Path, processes: int, between=None,
          alerts=None) -> dict[str, list[tuple]]:
    engine = connect(db_url)
    init_database(engine)
    recorder = Recorder(engine, alerts=alerts)
    for number, pages in enumerate(cycles(corpus)):
        serve(server, pages)
        if between and number:
            between()
        summary = run_cycle(recorder, sources(server), SETTINGS, analysis_processes=processes)
        assert summary.checked == len(pages)
    engine.dispose()
    return history(db_url)


def test_workers_store_exactly_what_the_main_process_stores(db_url, local_server, corpus, tmp_path,
                                                           monkeypatch) -> None:
    assert shared_pool(2) is not None  # started here: a cycle of so few sources would not start it
    submitted = []
    submit = AnalysisPool.submit
    monkeypatch.setattr(AnalysisPool, "submit", lambda pool, task, spec, captures: submitted.extend(captures) or
                        submit(pool, task, spec, captures))
    in_workers = crawl(db_url, local_server, corpus, processes=2)
    monkeypatch.undo()
    in_main = crawl(f"sqlite:///{tmp_path / 'main.db'}", local_server, corpus, processes=0)

    assert len(submitted) == 8  # every body of both cycles was new, so every one went to a worker
    assert in_workers == in_main
    versions = {(source, seq) for source, seq, *_ in in_workers["versions"]}
    assert versions == {("le-chat", 1), ("le-chat", 2), ("llama", 1), ("llama", 2), ("flaky", 1), ("expects", 1)}
    failed = {(source, outcome) for source, outcome, *_ in in_workers["attempts"] if outcome != "ok"}
    assert failed == {("flaky", "invalid"), ("expects", "invalid")}  # the real error page; the phrase gone
    directions = {(source, direction) for source, _, _, _, direction, *_ in in_workers["events"]}
    assert ("le-chat", "tightened") in directions and ("llama", "loosened") in directions


def test_a_page_without_its_expected_phrase_is_not_classified(corpus) -> None:
    body = (corpus / LE_CHAT / "2025-11-11T15-33-06Z.html").read_bytes()
    source = Source(id="x", provider="P", title="T", url="https://example.com/t", expect="No such phrase")

    analysis = analyse_body(body, HTML, source)

    assert analysis.document is not None and analysis.clauses is None
    assert analysis.compressed_body


def test_a_dead_worker_loses_no_capture(db_url, local_server, corpus, tmp_path) -> None:
    pool = shared_pool(2)
    pool.submit(analyse_body, b"<html><body><p>warm</p></body></html>", HTML, sources(local_server)[0]).result()

    def kill_workers() -> None:
        for process in list(pool._executor._processes.values()):
            # Once one worker is dead the executor ends the others itself: one may be gone already.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.join()

    survived = crawl(db_url, local_server, corpus, processes=2, between=kill_workers)
    reference = crawl(f"sqlite:///{tmp_path / 'main.db'}", local_server, corpus, processes=0)

    assert survived == reference
    replacement = shared_pool(2)
    assert replacement is not pool
    licence, source = only_file(corpus / LLAMA_3).read_bytes(), sources(local_server)[1]
    assert replacement.submit(analyse_body, licence, TEXT, source).result() == analyse_body(licence, TEXT, source)


WORKERS_THEN_SLEEP = """
import sys, time
from monitor.analysis import analyse_body, shared_pool
from monitor.sources import Source
pool = shared_pool(2)
source = Source(id="x", provider="P", title="T", url="https://example.com/t", format="text")
for future in [pool.submit(analyse_body, b"Terms. " * 100, "text/plain", source) for _ in range(4)]:
    future.result()
print(" ".join(str(process.pid) for process in pool._executor._processes.values()), flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[1].split()[0] not in ("Z", "X")


def test_workers_end_when_the_process_they_work_for_is_killed() -> None:
    owner = subprocess.Popen([sys.executable, "-c", WORKERS_THEN_SLEEP], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in owner.stdout.readline().split()]
    assert len(workers) == 2 and all(running(pid) for pid in workers)

    owner.kill()  # SIGKILL: no atexit, no pool shutdown
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.1)

    assert not any(running(pid) for pid in workers)


@pytest.mark.parametrize("value, expected", [("", os.cpu_count() or 1), ("0", 0), ("3", 3)])
def test_analysis_processes_default_to_one_per_core(value, expected) -> None:
    assert analysis_processes({"CLAUSEWATCH_ANALYSIS_PROCESSES": value}) == expected


def test_a_bad_number_of_processes_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CLAUSEWATCH_ANALYSIS_PROCESSES.*'two'"):
        analysis_processes({"CLAUSEWATCH_ANALYSIS_PROCESSES": "two"})


@pytest.mark.parametrize("command", [["run", "--once"], ["daemon"]])
def test_the_commands_refuse_a_bad_number_of_processes_in_one_line(command, tmp_path) -> None:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - {id: example, provider: Example, title: Terms, url: 'https://example.com/terms'}\n")
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", f"sqlite:///{tmp_path / 'cw.db'}", *command],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CLAUSEWATCH_ANALYSIS_PROCESSES": "two"})

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "CLAUSEWATCH_ANALYSIS_PROCESSES" in done.stderr and "'two'" in done.stderr


def test_config_shows_the_analysis_processes_and_where_they_come_from(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "monitor", "config", "--json"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "CLAUSEWATCH_ANALYSIS_PROCESSES": "3"})

    settings = {setting["name"]: setting for setting in json.loads(done.stdout)["settings"]}
    # the value in force, as the settings model validated it (a number, like the fetch settings')
    assert settings["analysis_processes"]["value"] == 3 and settings["analysis_processes"]["origin"] == "env"


def test_the_fetching_process_logs_what_the_workers_stored(db_url, local_server, corpus, caplog) -> None:
    from monitor.logs import CAPTURE_LOGGER

    assert shared_pool(2) is not None
    with caplog.at_level(logging.INFO, logger=CAPTURE_LOGGER):
        crawl(db_url, local_server, corpus, processes=2)

    lines = [record for record in caplog.records if record.name == CAPTURE_LOGGER]
    assert sorted(record.source for record in lines) == sorted(["le-chat", "llama", "flaky", "expects"] * 2)
    assert all(record.record_ms is not None and record.attempt_id for record in lines)
    assert {(record.source, record.outcome) for record in lines} >= {("le-chat", "new_version"), ("flaky", "failed")}


def test_captures_no_worker_could_store_are_stored_here(db_url, local_server, corpus, tmp_path, caplog,
                                                        monkeypatch) -> None:
    assert shared_pool(2) is not None
    # The workers are handed a database they cannot open; this process can.
    monkeypatch.setattr(Recorder, "shared_database_url", lambda recorder: f"sqlite:///{tmp_path}/missing/cw.db")
    with caplog.at_level(logging.WARNING):
        stored_here = crawl(db_url, local_server, corpus, processes=2)
    monkeypatch.undo()
    reference = crawl(f"sqlite:///{tmp_path / 'main.db'}", local_server, corpus, processes=0)

    assert stored_here == reference
    failures = [record.getMessage() for record in caplog.records if "in a worker process failed" in record.getMessage()]
    assert len(failures) == 8 and "storing it in the main process" in failures[0]


def test_only_a_database_other_processes_can_open_is_shared(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Recorder(connect("sqlite:///cw.db")).shared_database_url() == f"sqlite:///{tmp_path / 'cw.db'}"
    assert Recorder(connect("sqlite://")).shared_database_url() is None
    assert Recorder(connect("sqlite:///:memory:")).shared_database_url() is None
    server = Recorder(connect("postgresql://clausewatch:secret@db.example:5432/terms")).shared_database_url()
    assert server == "postgresql+psycopg://clausewatch:secret@db.example:5432/terms"


def test_workers_queue_the_notifications_of_what_they_store(db_url, local_server, corpus, tmp_path, caplog) -> None:
    from test_alerts import SECRET, Receiver
    from test_outbox import config_for

    receiver = Receiver(secret=SECRET)
    try:
        config = config_for(tmp_path, f"""\
channels:
  hook: {{kind: webhook, url: "{receiver.url()}", secret: "${{CW_SECRET}}", retries: 0}}
  screen: {{kind: console}}
routes:
  - {{channels: [hook], directions: [tightened]}}
""")
        config.notifier("screen")  # a sender made by an earlier delivery (it holds the terminal), as in a daemon
        assert shared_pool(2) is not None
        with caplog.at_level(logging.WARNING):
            crawl(db_url, local_server, corpus, processes=2, alerts=config)

        assert not [record for record in caplog.records if "worker process failed" in record.getMessage()]
        delivered = [event for body in receiver.json() for event in body["events"]]
        assert delivered and {event["source"] for event in delivered} == {"le-chat"}
        assert {event["direction"] for event in delivered} == {"tightened"}
    finally:
        receiver.down()


class JobsPool:
    """Stands in for the worker pool: keeps each submitted job for the test to finish."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future, list]] = []

    def submit(self, function, spec, captures) -> Future:  # type: ignore[no-untyped-def]
        job: Future = Future()
        self.jobs.append((job, captures))
        return job


def test_new_bodies_go_to_the_workers_in_batches_and_every_capture_is_settled() -> None:
    import asyncio
    from concurrent.futures import CancelledError

    from monitor.pipeline import BATCH_WAIT_SECONDS, ANALYSIS_BATCH, CaptureOutcome, _AnalysisBatches

    pool = JobsPool()
    batches = _AnalysisBatches(pool, spec=None)  # type: ignore[arg-type]
    source = Source(id="x", provider="P", title="T", url="https://example.com/t")

    async def fetching() -> list[Future]:
        stored = [batches.add(source, f"result {n}") for n in range(ANALYSIS_BATCH + 1)]  # type: ignore[arg-type]
        assert [len(captures) for _, captures in pool.jobs] == [ANALYSIS_BATCH]  # a full batch leaves at once
        await asyncio.sleep(BATCH_WAIT_SECONDS * 5)
        assert [len(captures) for _, captures in pool.jobs] == [ANALYSIS_BATCH, 1]  # the rest, once it has waited
        stored.append(batches.add(source, "last"))  # type: ignore[arg-type]
        return stored

    stored = asyncio.run(fetching())
    batches.send()  # what the fetches left when they ended
    assert [len(captures) for _, captures in pool.jobs] == [ANALYSIS_BATCH, 1, 1]

    pool.jobs[0][0].cancel()
    pool.jobs[1][0].set_exception(RuntimeError("database is locked"))
    outcome = CaptureOutcome("x", "new_version", "ok")
    pool.jobs[2][0].set_result([outcome])
    assert all(isinstance(future.exception(), CancelledError) for future in stored[:ANALYSIS_BATCH])
    assert str(stored[ANALYSIS_BATCH].exception()) == "database is locked"
    assert stored[-1].result() == outcome


def test_a_body_whose_text_is_the_latest_version_s_is_not_classified(db_url, monkeypatch) -> None:
    """A page whose nonce changed: the worker extracts it, sees the latest version's text, and neither
    classifies nor compresses it; the capture is unchanged."""
    from monitor import analysis
    from monitor.fetch import FetchResult
    from monitor.pipeline import UNCHANGED, AnalysisStoreSpec, _record_in_analysis_process
    import datetime as dt

    page = ("<html><body><main><h1>Terms</h1><p>You may not use Output to develop models that compete with us. "
            + "We may change these terms and will tell you. " * 20 + "</p></main></body></html>")
    source = Source(id="nonce", provider="Test", title="Terms", url="https://example.com/terms")

    def capture(nonce: str) -> FetchResult:
        return FetchResult(url=source.url, outcome="ok", started_at=dt.datetime.now(dt.timezone.utc), elapsed_ms=1,
                           body=page.replace("</main>", f"</main><script>{nonce}</script>").encode(),
                           content_type="text/html")

    engine = connect(db_url)
    init_database(engine)
    recorder = Recorder(engine)
    assert recorder.record(source, capture("first")).outcome == "new_version"
    spec = AnalysisStoreSpec.of(recorder, db_url)

    def refuse(*args, **kwargs):
        raise AssertionError("classified a body whose text is the latest version's")

    monkeypatch.setattr(analysis, "extract_clauses", refuse)
    monkeypatch.setattr(analysis, "compress_body", refuse)
    (outcome,) = _record_in_analysis_process(spec, [(source, capture("second"))])
    assert outcome.outcome == UNCHANGED
    engine.dispose()


def test_an_analysis_process_keeps_its_recorder_warm_from_batch_to_batch(db_url, monkeypatch) -> None:
    """Each batch a worker stored built a Recorder of its own, which read every source's latest version again."""
    from monitor.fetch import FetchResult
    from monitor.pipeline import UNCHANGED, AnalysisStoreSpec, _record_in_analysis_process
    import datetime as dt

    page = ("<html><body><main><h1>Terms</h1><p>You may not use Output to develop models that compete with us. "
            + "We may change these terms and will tell you. " * 20 + "</p></main></body></html>")
    sources = [Source(id=f"warm-{n}", provider="Test", title="Terms", url=f"https://example.com/{n}") for n in range(2)]

    def capture(source: Source, nonce: int) -> FetchResult:  # a new body each time, the same text
        return FetchResult(url=source.url, outcome="ok", started_at=dt.datetime.now(dt.timezone.utc), elapsed_ms=1,
                           body=page.replace("</main>", f"</main><script>{nonce}</script>").encode(),
                           content_type="text/html")

    init_database(connect(db_url))
    built: list[Recorder] = []
    loaded: list[str] = []
    build, load = Recorder.__init__, monitor.pipeline.recorder._latest_versions

    def counted_build(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(self)
        build(self, *args, **kwargs)

    def counted_load(session, version_ids):  # type: ignore[no-untyped-def]
        versions = load(session, version_ids)
        loaded.extend(versions)
        return versions

    monkeypatch.setattr(Recorder, "__init__", counted_build)
    monkeypatch.setattr(monitor.pipeline.recorder, "_latest_versions", counted_load)
    spec = AnalysisStoreSpec(db_url, revert_window=5, failing_after=3, alerts=None)
    batches = [_record_in_analysis_process(spec, [(source, capture(source, nonce)) for source in sources])
               for nonce in range(4)]
    assert [[outcome.outcome for outcome in batch] for batch in batches] == [["new_version"] * 2] + [[UNCHANGED] * 2] * 3
    assert len(built) == 1
    assert loaded == []  # each version was cached when this recorder wrote it


POOL_BESIDE_A_THREAD = """
import sys, threading
from monitor.analysis import analyse_body, shared_pool
from monitor.sources import Source
if sys.argv[1] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
pool = shared_pool(2)
source = Source(id="x", provider="P", title="T", url="https://example.com/t", format="text")
body = b"You may not use Output to develop models that compete with us. " * 20
print(pool.start_method, pool.submit(analyse_body, body, "text/plain", source).result() == analyse_body(body, "text/plain", source))
"""


@pytest.mark.parametrize("beside, start_method", [("alone", "fork"), ("thread", "forkserver")])
def test_workers_fork_from_a_process_of_one_thread_and_else_from_a_fork_server(beside, start_method) -> None:
    # Forking a process with other threads could copy a lock one of them holds: only the lone thread forks.
    done = subprocess.run([sys.executable, "-c", POOL_BESIDE_A_THREAD, beside], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == [start_method, "True"], done.stdout + done.stderr
