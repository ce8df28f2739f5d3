"""Two processes recording one source (a daemon beside `run --once`): every capture is stored, seqs have no
gaps, and each version is compared with the true previous one. Both backends."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from typing import Any

import pytest
from sqlalchemy import select

from monitor.fetch import FetchResult
from monitor.pipeline import NEW_VERSION, Capture, Recorder
from monitor.sources import Source
from monitor.store import ChangeEvent, FetchAttempt, Version, connect, init_database, session_scope

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CAPTURES_EACH = 5
TERMS = """# Terms of Use

## 3. Restrictions

You may not:

(a) use Output to develop models that compete with Example, except as the {marker} schedule permits;

(b) reverse engineer, decompile or disassemble the Services;

(c) use any automated means to scrape data from the Services.

## 4. Other

We may update these Terms from time to time and will tell you when we do so. We may update these Terms.
"""


def source() -> Source:
    return Source(id="example-terms", provider="Example", title="Terms of Use", url="https://example.com/terms",
                  format="markdown")


def capture(marker: str, minutes: int) -> Capture:
    """A capture whose watched clause (a) differs from every other capture's."""
    result = FetchResult(url="https://example.com/terms", outcome="ok", started_at=T0 + dt.timedelta(minutes=minutes),
                         elapsed_ms=5, body=TERMS.format(marker=marker).encode(), content_type="text/markdown")
    return Capture(source(), result)


def markers(side: str) -> list[str]:
    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
    return [f"{side} {word}" for word in words[:CAPTURES_EACH]]


def record_side(db_url: str, side: str, start: Any = None) -> None:
    """What one process does: its own engine and Recorder (its own cache of the latest version), each capture
    of the source recorded the way `run` records it; `start` is a barrier to wait on first."""
    recorder = Recorder(connect(db_url))
    if start is not None:
        start.wait()
    for minute, marker in enumerate(markers(side), start=1):
        recorder.record_or_fail(capture(marker, minute))


def assert_every_capture_is_a_version_compared_with_the_true_previous_one(db_url: str, first: int) -> None:
    with session_scope(connect(db_url)) as session:
        attempts = session.execute(select(FetchAttempt.outcome, FetchAttempt.error)).all()
        versions = session.execute(select(Version.id, Version.seq, Version.text).order_by(Version.seq)).all()
        events = session.execute(select(ChangeEvent.version_id, ChangeEvent.previous_version_id,
                                        ChangeEvent.before, ChangeEvent.after)).all()
    assert [outcome for outcome, _ in attempts] == ["ok"] * len(attempts), attempts  # none lost as a failure
    assert len(attempts) == first + 2 * CAPTURES_EACH
    assert [seq for _, seq, _ in versions] == list(range(1, len(attempts) + 1))
    previous = {version.id: earlier for earlier, version in zip(versions, versions[1:])}
    texts = {version.id: version.text for version in versions}
    assert {version_id for version_id, *_ in events} == set(previous)  # every new version has its event
    for version_id, previous_id, before, after in events:
        assert previous_id == previous[version_id].id
        assert before in previous[version_id].text and after in texts[version_id]


def prepared(db_url: str, with_first_version: bool = True) -> int:
    """The database, with the source's first version recorded by a third process or with no source yet;
    returns the captures recorded."""
    engine = connect(db_url)
    init_database(engine)
    if with_first_version:
        assert Recorder(engine).record_or_fail(capture("baseline", 0)).outcome == NEW_VERSION
    engine.dispose()
    return int(with_first_version)


@pytest.mark.parametrize("known_source", [True, False], ids=["known-source", "new-source"])
def test_two_recorders_reading_the_same_latest_version_both_store_their_capture(db_url: str, monkeypatch,
                                                                              known_source: bool) -> None:
    """Both read the latest version (or find no source row) before either stores: today's code gives both
    the same next seq (or inserts the source twice)."""
    first = prepared(db_url, known_source)
    # Each recorder's first store waits, after it has read the latest version, until the other has read it
    # too (or a while, if the other cannot read it before this one commits: what the lock is for).
    both_read = threading.Barrier(2, timeout=2)
    refresh = Recorder._refresh_latest
    waited: set[int] = set()

    def refresh_then_meet(self, session, source_ids):  # type: ignore[no-untyped-def]
        refresh(self, session, source_ids)
        if id(self) not in waited:
            waited.add(id(self))
            try:
                both_read.wait()
            except threading.BrokenBarrierError:
                pass

    monkeypatch.setattr(Recorder, "_refresh_latest", refresh_then_meet)
    errors: list[BaseException] = []

    def side(name: str) -> None:
        try:
            record_side(db_url, name)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=side, args=(name,)) for name in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_every_capture_is_a_version_compared_with_the_true_previous_one(db_url, first)


def test_two_processes_recording_one_source_at_once_lose_nothing(db_url: str) -> None:
    first = prepared(db_url)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    processes = [context.Process(target=record_side, args=(db_url, name, start)) for name in ("alpha", "beta")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]
    assert_every_capture_is_a_version_compared_with_the_true_previous_one(db_url, first)
