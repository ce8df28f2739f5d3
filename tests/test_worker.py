"""Workers on PostgreSQL: several processes share the sources, no source is fetched twice in a cycle, and the
sources of a worker killed mid-fetch are taken over once its lease expires."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import Response, _postgres_database
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.sources import Source
from monitor.store import FetchAttempt, Version, connect, init_database, session_scope
from monitor.store.leases import claim_due, finish_claim, make_due
from monitor.store.models import SourceSchedule
from monitor.worker import next_due_at

PAGE = """<html><head><title>Terms {n}</title></head><body><nav>Home</nav><main><h1>Terms of Use {n}</h1>
<h2>3. Restrictions</h2><p>You may not:</p><ol type="a">
<li>use Output to develop models that compete with Example {n};</li>
<li>reverse engineer, decompile or disassemble the Services.</li></ol>
<h2>4. Changes</h2><p>{filler}</p></main></body></html>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 4


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (workers need PostgreSQL), dropped afterwards."""
    yield from _postgres_database()


def _serve_pages(local_server, count: int, delay: float | dict) -> list[dict]:  # type: ignore[no-untyped-def]
    """`count` terms pages answering after `delay` seconds (or after `delay["seconds"]`, changeable)."""
    state = delay if isinstance(delay, dict) else {"seconds": delay}
    # http.server listens with a backlog of 5: workers opening 10 connections each at once would see dropped
    # SYNs and one-second retransmits; a larger backlog keeps the test about workers, not about the server.
    local_server._server.socket.listen(256)

    def page(n: int):  # type: ignore[no-untyped-def]
        body = PAGE.format(n=n, filler=FILLER).encode()

        def respond(handler) -> Response:  # type: ignore[no-untyped-def]
            time.sleep(state["seconds"])
            return Response(200, body, {"Content-Type": "text/html; charset=utf-8"})
        return respond

    entries = []
    for n in range(count):
        local_server.pages[f"/terms/{n}"] = page(n)
        entries.append({"id": f"terms-{n:03d}", "provider": "Example", "title": f"Terms {n}",
                        "url": local_server.url(f"/terms/{n}"), "select": ["main"], "schedule": "1h",
                        "allow_private": True, "respect_robots": False})
    return entries


def _worker(db: str, sources: Path, name: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CLAUSEWATCH_FETCH_PER_HOST": "10", "CLAUSEWATCH_FETCH_RETRIES": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", db, "--sources", str(sources), "worker", "--name", name,
         "--batch", "10", "--lease", "3s", "--poll", "200ms", "--concurrency", "10", "--quiet",
         "--alerts-file", "-", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _held_by(engine, owner: str) -> set[str]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return set(session.execute(select(SourceSchedule.source_id)
                                   .where(SourceSchedule.lease_owner == owner)).scalars())


def _attempts_per_source(engine) -> Counter:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return Counter(dict(session.execute(select(FetchAttempt.source_id, func.count())
                                            .group_by(FetchAttempt.source_id)).all()))


@pytest.mark.timeout(120)
def test_three_workers_one_killed_every_source_fetched_exactly_once_per_cycle(postgres_url: str, local_server,
                                                                              tmp_path: Path) -> None:
    delay = {"seconds": 0.05}
    entries = _serve_pages(local_server, 300, delay)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": entries}))
    engine = connect(postgres_url)
    init_database(engine)
    ids = {entry["id"] for entry in entries}

    workers = [_worker(postgres_url, sources, f"w{i}", "--until-idle") for i in range(3)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _count(engine, FetchAttempt) < 30:
            time.sleep(0.05)
        # slow the server down so that w0's next batch is surely in flight, then kill w0 with SIGKILL
        delay["seconds"] = 3
        time.sleep(0.6)
        # On a loaded machine w0 may be storing a batch for a while before it claims the next one.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _held_by(engine, "w0"):
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        delay["seconds"] = 0.05
        orphaned = _held_by(engine, "w0")
        done = _count(engine, FetchAttempt)
        assert orphaned, "w0 died holding no lease: the test did not kill it mid-fetch"
        assert done < 300, "the cycle was over before the kill"

        for process in workers[1:]:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            assert "Traceback" not in err, err
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()

    attempts = _attempts_per_source(engine)
    assert set(attempts) == ids  # none lost
    assert set(attempts.values()) == {1}, {k: v for k, v in attempts.items() if v != 1}  # none twice
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 300
        rows = session.execute(select(SourceSchedule)).scalars().all()
    assert len(rows) == 300 and all(row.lease_owner is None for row in rows)
    assert all(row.next_due_at > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=50) for row in rows)
    assert all(row.last_success_at is not None for row in rows)
    # The dead worker's sources were taken over after its lease expired: a page it had requested but not
    # recorded is requested again (the only double request), one it had recorded is not fetched again.
    requests = Counter(path for method, path, headers in local_server.requests)
    assert all(requests[f"/terms/{n}"] >= 1 for n in range(300))
    refetched = {source_id: requests[f"/terms/{int(source_id.split('-')[1])}"] for source_id in orphaned}
    assert all(count in (1, 2) for count in refetched.values()), refetched
    assert sum(requests.values()) <= 300 + len(orphaned)

    # the next cycle: every source once more, no more
    make_due(engine)
    survivor = _worker(postgres_url, sources, "w3", "--until-idle")
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert "checked 300" in out
    assert set(_attempts_per_source(engine).values()) == {2}


@pytest.mark.timeout(60)
def test_sigterm_stops_the_batch_and_releases_its_sources(postgres_url: str, local_server,
                                                          tmp_path: Path) -> None:
    entries = _serve_pages(local_server, 20, delay=5)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": entries}))
    engine = connect(postgres_url)
    init_database(engine)
    process = _worker(postgres_url, sources, "slow", "--lease", "1h")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(local_server.requests) < 5:
            time.sleep(0.05)
        assert local_server.requests, "the worker never fetched"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert time.monotonic() - started < 5  # did not wait for the 5-second responses
    with session_scope(engine) as session:
        held = session.execute(select(func.count()).select_from(SourceSchedule)
                               .where(SourceSchedule.lease_owner.is_not(None))).scalar_one()
    assert held == 0  # released at once, not after the one-hour lease


def test_a_claimed_source_is_claimed_by_no_one_else_until_its_lease_expires(postgres_url: str) -> None:
    engine = connect(postgres_url)
    init_database(engine)
    from monitor.pipeline import upsert_source
    from monitor.store.leases import add_schedules

    source = Source(id="a", provider="P", title="T", url="https://example.com/", schedule="2h")
    with session_scope(engine) as session:
        upsert_source(session, source)
        add_schedules(session, ["a"])
    first = claim_due(engine, "one", ["a"], 10, dt.timedelta(seconds=1))
    assert [claim.source_id for claim in first] == ["a"]
    assert claim_due(engine, "two", ["a"], 10, dt.timedelta(seconds=1)) == []
    time.sleep(1.2)
    second = claim_due(engine, "two", ["a"], 10, dt.timedelta(minutes=5))
    assert [claim.source_id for claim in second] == ["a"] and not second[0].already_recorded
    assert not finish_claim(engine, "one", "a", next_due_at(source, first[0].claimed_at), True)  # lease lost
    assert finish_claim(engine, "two", "a", next_due_at(source, second[0].claimed_at), True)
    assert claim_due(engine, "three", ["a"], 10, dt.timedelta(minutes=5)) == []  # not due for 2 hours


def test_a_dead_worker_s_recorded_success_counts_as_the_source_s_last_success(postgres_url: str) -> None:
    """A worker recorded a capture, then died before marking the source done: the worker that takes the
    source over marks it done with that capture's outcome, so health sees its last success."""
    engine = connect(postgres_url)
    init_database(engine)
    from monitor.pipeline import upsert_source
    from monitor.store.leases import add_schedules

    sources = [Source(id=name, provider="P", title="T", url="https://example.com/", schedule="2h")
               for name in ("ok", "failed")]
    with session_scope(engine) as session:
        for source in sources:
            upsert_source(session, source)
        add_schedules(session, ["ok", "failed"])
    claim_due(engine, "dead", ["ok", "failed"], 10, dt.timedelta(seconds=1))
    with session_scope(engine) as session:  # what the dead worker recorded before it died
        now = dt.datetime.now(dt.timezone.utc)
        session.add_all([FetchAttempt(source_id="ok", started_at=now, outcome="ok"),
                         FetchAttempt(source_id="failed", started_at=now, outcome="http_error")])
    time.sleep(1.2)
    taken = {claim.source_id: claim for claim in claim_due(engine, "heir", ["ok", "failed"], 10,
                                                             dt.timedelta(minutes=5))}
    assert taken["ok"].already_recorded and taken["ok"].recorded_success
    assert taken["failed"].already_recorded and not taken["failed"].recorded_success


def test_next_due_time_follows_the_schedule() -> None:
    start = dt.datetime(2026, 3, 1, 10, 7, tzinfo=dt.timezone.utc)
    every_2h = Source(id="a", provider="P", title="T", url="https://example.com/", schedule="2h")
    due = next_due_at(every_2h, start)
    assert start + dt.timedelta(hours=2) <= due <= start + dt.timedelta(hours=2, minutes=5)
    cron = Source(id="b", provider="P", title="T", url="https://example.com/", schedule="*/30 * * * *")
    assert next_due_at(cron, start) == dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)


def test_worker_refuses_sqlite_and_points_to_postgresql(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'cw.db'}", "worker"])
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output and "postgresql://" in result.output
    assert not (tmp_path / "cw.db").exists()


def test_stop_event_ends_a_worker_in_process(postgres_url: str, local_server) -> None:
    """The library entry point: run_worker until a stop event, with no sources due."""
    from monitor.fetch.settings import fetch_settings_from_env
    from monitor.worker import WorkerSettings, run_worker

    engine = connect(postgres_url)
    init_database(engine)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    stats = run_worker(engine, [], fetch_settings_from_env({}), settings=WorkerSettings(poll=0.1), stop=stop)
    assert stats.batches == 0


def test_a_stop_wrapped_by_a_task_group_is_still_a_stop() -> None:
    # SIGTERM can strike while the fetcher's task group runs: the stop then arrives inside an exception group.
    from monitor.worker import WorkerStopped, is_stop

    assert is_stop(WorkerStopped())
    assert is_stop(BaseExceptionGroup("fetch", [WorkerStopped()]))
    assert not is_stop(BaseExceptionGroup("fetch", [WorkerStopped(), ValueError("boom")]))
    assert not is_stop(KeyboardInterrupt())
