"""`clausewatch import` with worker processes: each worker records whole documents, and the rows are those an
import without workers makes; a worker that fails partway leaves the rest of its document to the command."""

from __future__ import annotations

import datetime as dt
import shutil
from concurrent.futures import Future
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.importer import find_versions, import_history
from monitor.importer import record as importing
from monitor.pipeline import Recorder
from monitor.store import ChangeEvent, FetchAttempt, Version, connect, init_database, session_scope
from monitor.store.models import ClauseRow as Clause

DOCUMENTS = [Path("Le Chat") / "Commercial Terms", Path("Claude.ai") / "Acceptable Use Policy"]  # 6 and 10 versions


def dataset(corpus: Path, folder: Path) -> Path:
    for document in DOCUMENTS:
        shutil.copytree(corpus / "genai-eu" / document, folder / document)
    return folder


def rows(url: str) -> dict[str, list]:
    """What the import stored, without ids and times of recording."""
    with session_scope(connect(url)) as session:
        return {
            "attempts": sorted(session.execute(select(FetchAttempt.source_id, FetchAttempt.started_at,
                                                      FetchAttempt.outcome, FetchAttempt.error)).all()),
            "versions": sorted(session.execute(select(Version.source_id, Version.seq, Version.text_sha256,
                                                      Version.language)).all()),
            "clauses": sorted(session.execute(select(Version.source_id, Version.seq, Clause.position, Clause.key,
                                                     Clause.categories).join(Version)).all(), key=repr),
            "events": sorted(session.execute(select(ChangeEvent.source_id, ChangeEvent.key, ChangeEvent.kind,
                                                    ChangeEvent.direction, ChangeEvent.alert)).all()),
        }


def imported(url: str, folder: Path) -> importing.ImportSummary:
    engine = connect(url)
    init_database(engine)
    return import_history(Recorder(engine), folder)


def test_workers_record_whole_documents_as_this_process_would(corpus: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = dataset(corpus, tmp_path / "dataset")
    monkeypatch.setenv("CLAUSEWATCH_ANALYSIS_PROCESSES", "0")
    alone = imported(f"sqlite:///{tmp_path / 'alone.db'}", folder)

    monkeypatch.setenv("CLAUSEWATCH_ANALYSIS_PROCESSES", "2")
    sent = []
    submit = importing.AnalysisPool.submit
    monkeypatch.setattr(importing.AnalysisPool, "submit",
                        lambda pool, function, *args: sent.append(function.__name__) or submit(pool, function, *args))
    with_workers = imported(f"sqlite:///{tmp_path / 'workers.db'}", folder)

    assert sent == ["_record_in_worker"] * len(DOCUMENTS)
    assert [o.outcome for o in with_workers.outcomes] == [o.outcome for o in alone.outcomes]
    assert rows(f"sqlite:///{tmp_path / 'workers.db'}") == rows(f"sqlite:///{tmp_path / 'alone.db'}")
    assert any(row[4] for row in rows(f"sqlite:///{tmp_path / 'alone.db'}")["clauses"])  # watched clauses were found


def test_what_a_failed_worker_did_not_record_is_recorded_here(corpus: Path, tmp_path: Path) -> None:
    folder = dataset(corpus, tmp_path / "dataset")
    versions = [version for version in find_versions(folder) if version.service == "Le Chat"]
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    engine = connect(url)
    init_database(engine)
    recorder = Recorder(engine)
    source = importing.unnamed_source(("Le Chat", "Commercial Terms"), importing.IdOwners(recorder, set()))
    recorder.sync_sources([source])
    summary = importing.ImportSummary()
    document = importing._prepare_document(recorder, source, versions, summary, None, None)
    for capture in document.captures[:2]:  # what the worker stored before it died
        recorder.record_many([capture])
    died: Future = Future()
    died.set_exception(RuntimeError("worker died"))

    importing._import_document(recorder, importing.replace(document, recorded=died), summary, None)

    assert summary.already_stored == 2
    assert len(summary.outcomes) == len(versions) - 2
    with session_scope(engine) as session:
        attempts = session.scalars(select(FetchAttempt.started_at).order_by(FetchAttempt.started_at)).all()
    assert [a.replace(tzinfo=dt.timezone.utc) if a.tzinfo is None else a for a in attempts] == \
        [version.recorded_at for version in versions]  # each version once, in time order
