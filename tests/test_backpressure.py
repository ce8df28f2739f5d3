"""Back-pressure: fetched bodies that wait for the recorder are bounded; the fetchers wait, nothing is lost."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import func, select

from conftest import LocalServer
from monitor.fetch import FetchSettings
from monitor.pipeline import Backlog, Recorder, cycle, run_cycle
from monitor.sources import Source
from monitor.store import FetchAttempt, connect, init_database, session_scope

PAGE = ("<html><body><main><h1>Terms {n}</h1>" + "".join(
    f"<p>{i}. You may not use Output to develop models that compete with us ({{n}}).</p>" for i in range(150))
    + "</main></body></html>")


def test_admit_waits_while_the_backlog_is_over_its_limit() -> None:
    backlog = Backlog(limit=1000)
    backlog.add(1500)
    admitted = threading.Event()

    async def fetcher() -> None:
        await backlog.admit()
        admitted.set()

    def recorder() -> None:
        time.sleep(0.2)
        assert not admitted.is_set()  # still waiting: nothing recorded yet
        backlog.done(1500)

    thread = threading.Thread(target=recorder)
    thread.start()
    asyncio.run(fetcher())
    thread.join()
    assert admitted.is_set() and backlog.waiting == 0


def test_a_slow_recorder_holds_the_fetchers_back_and_loses_nothing(db_url: str, local_server: LocalServer,
                                                                   monkeypatch) -> None:
    pages = 40
    for index in range(pages):
        local_server.serve(f"/p{index}", PAGE.format(n=index))
    page_bytes = len(PAGE.format(n=10).encode())
    limit = 3 * page_bytes
    settings = FetchSettings(respect_robots=False, retries=0, concurrency=4, per_host=4)
    peak = {"bytes": 0}
    original_add = Backlog.add

    def tracking_add(self: Backlog, size: int) -> None:
        original_add(self, size)
        peak["bytes"] = max(peak["bytes"], self.waiting)

    original_record = cycle._record_together

    def slow_record(*args, **kwargs):
        time.sleep(0.05)  # a slow database: the fetchers are far faster than the recorder
        return original_record(*args, **kwargs)

    monkeypatch.setattr(cycle, "MAX_BACKLOG_BYTES", limit)
    monkeypatch.setattr(Backlog, "add", tracking_add)
    monkeypatch.setattr(cycle, "_record_together", slow_record)
    engine = connect(db_url)
    init_database(engine)
    sources = [Source(id=f"p{index}", provider="Test", title=f"Page {index}", url=local_server.url(f"/p{index}"),
                      allow_private=True, respect_robots=False) for index in range(pages)]
    summary = run_cycle(Recorder(engine), sources, settings, analysis_processes=0)
    assert summary.checked == pages and summary.new_versions == pages
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(FetchAttempt)).scalar_one() == pages
    # at most the limit, plus the bodies of the fetches that were already in flight when it was reached
    assert page_bytes <= peak["bytes"] <= limit + settings.concurrency * page_bytes
    engine.dispose()

