"""Fetchers by kind (issue 15, item 1): a source's `fetcher:` names a registered kind, an unknown one is refused
with the known ones, and the cycle hands each source to the fetcher of its kind, also one registered by a test."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import LocalServer
from monitor.errors import ConfigError
from monitor.fetch import (OK, FetchRequest, Fetcher, FetchResult, FetchSettings, fetch_requests, fetcher_for,
                           registered_fetchers)
from monitor.pipeline import Recorder, fetch_once, run_cycle
from monitor.sources import FETCHER_KINDS, Source, load_sources
from monitor.store import connect, init_database

PAGE = "# Terms\n\n" + "You may not use Output to develop models that compete with us. " * 20
SOURCES = """\
sources:
  - id: example-terms
    provider: Example
    title: Terms of Use
    url: https://example.com/terms
    fetcher: {fetcher}
"""


@pytest.fixture
def recording_kind() -> Iterator[type[Fetcher]]:
    """A fetcher kind `recording`, registered for one test: it answers every request with PAGE."""

    class RecordingFetcher(Fetcher):
        kind = "recording"
        fetched: list[str] = []

        async def fetch(self, requests: Sequence[FetchRequest], settings: FetchSettings, on_result: Any,
                        **_: Any) -> None:
            for request in requests:
                self.fetched.append(request.source.id)
                on_result(request, FetchResult(url=request.source.url, outcome=OK, elapsed_ms=0, body=PAGE.encode(),
                                               started_at=dt.datetime.now(dt.timezone.utc),
                                               content_type="text/markdown"))

    yield RecordingFetcher
    Fetcher.registry.pop("recording", None)
    FETCHER_KINDS.discard("recording")


def source(id: str, url: str = "https://example.com/terms", **fields: Any) -> Source:
    return Source(id=id, provider="Example", title="Terms", url=url, **fields)


def test_an_unknown_fetcher_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.format(fetcher="htp"))
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert f"{path}:2: source 'example-terms': field 'fetcher': unknown fetcher 'htp' (one of: browser, http)" \
        == str(raised.value)
    with pytest.raises(ValidationError, match="unknown fetcher 'file'"):  # the file fetcher reads paths, not URLs
        source("x", fetcher="file")
    with pytest.raises(ValueError, match=r"no fetcher of kind 'htp' \(one of: browser, file, http\)"):
        fetcher_for("htp")


def test_the_kinds_sources_may_name_are_the_registered_fetchers() -> None:
    named = {kind for kind, fetcher in registered_fetchers().items() if fetcher.named_by_sources}
    assert named == FETCHER_KINDS == {"http", "browser"}
    assert set(registered_fetchers()) == {"http", "browser", "file"}


def test_the_cycle_hands_each_source_to_the_fetcher_of_its_kind(recording_kind: type[Fetcher], tmp_path: Path,
                                                                  local_server: LocalServer) -> None:
    local_server.serve("/terms.md", PAGE, content_type="text/markdown; charset=utf-8")
    sources = [source("by-recording", fetcher="recording"),
               source("by-http", local_server.url("/terms.md"), allow_private=True, respect_robots=False)]
    engine = connect(f"sqlite:///{tmp_path / 'cw.db'}")
    init_database(engine)
    summary = run_cycle(Recorder(engine), sources, FetchSettings(retries=0), analysis_processes=0)
    engine.dispose()
    assert recording_kind.fetched == ["by-recording"]
    assert [path for _method, path, _headers in local_server.requests] == ["/terms.md"]
    assert (summary.checked, summary.new_versions, summary.failed) == (2, 2, 0)


def test_a_registered_kind_is_one_a_sources_file_may_name_and_the_cache_forgets_it(
        recording_kind: type[Fetcher], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.format(fetcher="recording"))
    assert [entry.fetcher for entry in load_sources(path)] == ["recording"]
    del Fetcher.registry["recording"]
    FETCHER_KINDS.discard("recording")
    with pytest.raises(ConfigError, match="unknown fetcher 'recording'"):  # not the cached validation
        load_sources(path)


def test_a_request_with_a_path_goes_to_the_file_fetcher(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    result = fetch_once(source("example-terms"), FetchSettings(), path=page)
    assert result.ok and result.body == PAGE.encode() and result.content_type == "text/markdown"
    assert result.final_url == page.resolve().as_uri()

    results: list[FetchResult] = []
    asyncio.run(fetch_requests([FetchRequest(source("example-terms"), path=page)], FetchSettings(),
                               lambda request, result: results.append(result)))
    assert [result.body for result in results] == [PAGE.encode()]
