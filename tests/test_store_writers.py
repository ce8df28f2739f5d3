"""The recorder's writers take turns (monitor.store.db.writing_session): on a SQLite file at a lock file beside
it, which hands the turn on when the holder's transaction ends, however it ends; after the busy timeout a writer
goes on to SQLite's own lock. Both backends."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.store import SourceRow, connect, init_database, session_scope
from monitor.store import db as store_db
from monitor.store.db import sqlite_file, writing_session


def _turn_file(db_url: str) -> Path | None:
    file = sqlite_file(db_url)
    return Path(f"{file}.write-turn") if file is not None else None


def _held_elsewhere(turn: Path) -> bool:
    """Whether another open file holds the turn (flock locks belong to open files, not to processes)."""
    descriptor = os.open(turn, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _add_source(session, source_id: str) -> None:  # type: ignore[no-untyped-def]
    session.add(SourceRow(id=source_id, provider="Example", title=source_id, url=f"https://example.com/{source_id}",
                          created_at=dt.datetime.now(dt.timezone.utc)))


def test_a_second_writer_waits_for_the_first_to_commit_and_then_reads_what_it_wrote(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    first_inside, first_may_commit = threading.Event(), threading.Event()
    seen_by_second: list[list[str]] = []

    def first() -> None:
        try:
            with writing_session(engine) as session:
                _add_source(session, "first")
                session.flush()
                first_inside.set()
                first_may_commit.wait(30)
        finally:
            first_inside.set()  # a first that failed must not leave the test waiting

    def second() -> None:
        first_inside.wait(30)
        with writing_session(engine) as session:
            seen_by_second.append(list(session.scalars(select(SourceRow.id))))
            _add_source(session, "second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_inside.wait(30)
    turn = _turn_file(db_url)
    if turn is not None:  # SQLite: the first holds the turn while its transaction is open
        assert _held_elsewhere(turn)
    assert seen_by_second == []  # the second has not begun
    first_may_commit.set()
    for thread in threads:
        thread.join(60)
    assert seen_by_second == [["first"]]
    with session_scope(engine) as session:
        assert sorted(session.scalars(select(SourceRow.id))) == ["first", "second"]


def test_a_failed_transaction_hands_the_turn_on(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    with pytest.raises(RuntimeError), writing_session(engine) as session:
        _add_source(session, "rolled-back")
        session.flush()
        raise RuntimeError("the capture could not be stored")
    turn = _turn_file(db_url)
    if turn is not None:
        assert not _held_elsewhere(turn)
    with writing_session(engine) as session:  # would wait for ever if the turn were still held
        assert list(session.scalars(select(SourceRow.id))) == []
        _add_source(session, "next")
    with session_scope(engine) as session:
        assert list(session.scalars(select(SourceRow.id))) == ["next"]


def test_a_turn_held_past_the_busy_timeout_leaves_the_writer_to_sqlites_lock(tmp_path: Path, monkeypatch) -> None:
    db_url = f"sqlite:///{tmp_path / 'clausewatch.db'}"
    engine = connect(db_url)
    init_database(engine)
    turn = _turn_file(db_url)
    turn.touch()
    stuck = os.open(turn, os.O_RDONLY)  # a holder that never lets go, and holds no SQLite lock
    fcntl.flock(stuck, fcntl.LOCK_EX)
    monkeypatch.setattr(store_db, "SQLITE_BUSY_SECONDS", 0.05)
    try:
        with writing_session(engine) as session:
            _add_source(session, "written")
    finally:
        os.close(stuck)
    with session_scope(engine) as session:
        assert list(session.scalars(select(SourceRow.id))) == ["written"]


def test_the_turn_file_sits_beside_a_sqlite_database_and_nowhere_else(tmp_path: Path) -> None:
    file_url = f"sqlite:///{tmp_path / 'clausewatch.db'}"
    for url in (file_url, "sqlite://"):
        engine = connect(url)
        init_database(engine)
        with writing_session(engine) as session:
            _add_source(session, "one")
    assert sorted(path.name for path in tmp_path.iterdir() if "turn" in path.name) == ["clausewatch.db.write-turn"]


def test_a_folder_where_the_turn_file_cannot_be_made_still_takes_writes(tmp_path: Path, monkeypatch) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'clausewatch.db'}")
    init_database(engine)
    real_open = os.open

    def refusing_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith(".write-turn"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(store_db.os, "open", refusing_open)
    with writing_session(engine) as session:
        _add_source(session, "written")
    with session_scope(engine) as session:
        assert list(session.scalars(select(SourceRow.id))) == ["written"]
