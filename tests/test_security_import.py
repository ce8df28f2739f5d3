"""`import` of a hostile dataset folder (issue 18, item 3): nothing outside the folder is read, nothing huge is
read, and folder names never make an empty or shared source id. Both backends where a database is involved."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.errors import UsageError
from monitor.importer import MAX_VERSION_BYTES, find_versions
from monitor.store import SourceRow, connect, init_database, session_scope

STAMP = "2025-01-02T03-04-05Z"
TERMS = "# Terms\n\n## 3. Restrictions\n\nYou may not use Output to develop models that compete with us.\n" * 3


def clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def document(dataset: Path, service: str, terms_type: str, text: str = TERMS, stamp: str = STAMP) -> Path:
    folder = dataset / service / terms_type
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{stamp}.md"
    file.write_text(text)
    return file


def stored_sources(db_url: str) -> list[tuple[str, str, str]]:
    engine = connect(db_url)
    init_database(engine)  # a refused import may have stopped before creating the tables
    with session_scope(engine) as session:
        return [(row.id, row.provider, row.title) for row in session.execute(select(SourceRow)).scalars()]


def test_symlink_to_a_file_outside_the_folder_is_refused_and_nothing_stored(tmp_path: Path, db_url: str) -> None:
    dataset = tmp_path / "dataset"
    document(dataset, "Good", "Terms")
    (dataset / "Evil" / "Terms").mkdir(parents=True)
    (dataset / "Evil" / "Terms" / f"{STAMP}.md").symlink_to("/etc/passwd")
    done = clausewatch("--db", db_url, "import", str(dataset), cwd=tmp_path)
    assert done.returncode != 0
    assert "outside the folder" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert stored_sources(db_url) == []


def test_symlinked_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    document(outside, "Secret", "Terms", text="root:x:0:0")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "Secret").symlink_to(outside / "Secret", target_is_directory=True)
    with pytest.raises(UsageError, match="outside the folder"):
        find_versions(dataset)


def test_symlink_inside_the_folder_is_read(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    real = document(dataset, "Good", "Terms")
    (dataset / "Alias" / "Terms").mkdir(parents=True)
    (dataset / "Alias" / "Terms" / f"{STAMP}.md").symlink_to(real)
    versions = find_versions(dataset)
    assert sorted(version.service for version in versions) == ["Alias", "Good"]
    assert all(version.read() == TERMS.encode() for version in versions)


def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    (dataset / "Pipe" / "Terms").mkdir(parents=True)
    os.mkfifo(dataset / "Pipe" / "Terms" / f"{STAMP}.md")
    with pytest.raises(UsageError, match="not a regular file"):
        find_versions(dataset)


def test_two_gigabyte_sparse_file_is_refused_before_reading(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    huge = document(dataset, "Huge", "Terms")
    with huge.open("r+b") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk used, 2 GB to read
    with pytest.raises(UsageError, match="over the"):
        find_versions(dataset)


def test_reading_a_version_takes_memory_for_its_size_not_for_the_limit(tmp_path: Path) -> None:
    document(tmp_path / "dataset", "Example", "Terms")
    (version,) = find_versions(tmp_path / "dataset")
    tracemalloc.start()
    try:
        assert version.read() == TERMS.encode()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024  # the limit is 10 MB


def test_a_version_that_grows_after_it_was_found_is_read_whole_up_to_the_limit(tmp_path: Path) -> None:
    file = document(tmp_path / "dataset", "Example", "Terms")
    (version,) = find_versions(tmp_path / "dataset")
    file.write_text(TERMS * 2)
    assert version.read() == (TERMS * 2).encode()
    with file.open("r+b") as handle:
        handle.truncate(MAX_VERSION_BYTES + 1)
    with pytest.raises(UsageError, match="grew past"):
        version.read()


def test_file_over_the_limit_leaves_no_source_row(tmp_path: Path, db_url: str) -> None:
    dataset = tmp_path / "dataset"
    big = document(dataset, "Big", "Terms")
    with big.open("r+b") as handle:
        handle.truncate(MAX_VERSION_BYTES + 1)
    done = clausewatch("--db", db_url, "import", str(dataset), cwd=tmp_path)
    assert done.returncode != 0 and "over the" in done.stderr
    assert stored_sources(db_url) == []


def test_folder_names_that_slug_alike_stay_two_sources_and_none_is_empty(tmp_path: Path, db_url: str) -> None:
    dataset = tmp_path / "dataset"
    document(dataset, "A B", "x", TERMS)
    document(dataset, "a-b", "x", TERMS.replace("compete", "rival"))
    document(dataset, "!!!", "???", TERMS)
    done = clausewatch("--db", db_url, "import", str(dataset), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sources = stored_sources(db_url)
    assert sorted((provider, title) for _id, provider, title in sources) == [("!!!", "???"), ("A B", "x"),
                                                                             ("a-b", "x")]
    ids = [source_id for source_id, _provider, _title in sources]
    assert len(set(ids)) == 3 and all(ids)
    # Importing again keeps every id: the same document lands on the same source.
    again = clausewatch("--db", db_url, "import", str(dataset), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(stored_sources(db_url)) == sorted(sources)


def test_control_characters_in_folder_names_are_refused(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    document(dataset, "Evil\x1b[31m", "Terms")
    with pytest.raises(UsageError, match="control character"):
        find_versions(dataset)
