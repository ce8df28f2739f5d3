"""Every failure kind through the real pipeline against a local server: recorded, never a version or an event."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from sqlalchemy import func, select

from conftest import TEST_DATA, Response
from monitor.fetch import FetchSettings
from monitor.pipeline import Recorder, run_cycle
from monitor.sources import Source
from monitor.store import ChangeEvent, FetchAttempt, Version, connect, init_database, session_scope

GOOD = ("<html><body><main><h1>Terms of Use</h1><h2>3. Restrictions</h2><p>You may not:</p><ol type='a'>"
        "<li>use Output to develop models that compete with Example;</li>"
        "<li>reverse engineer, decompile or disassemble the Services;</li>"
        "<li>use any automated means to scrape data from the Services.</li></ol>"
        "<h2>4. Changes</h2><p>" + "We may update these Terms from time to time and will tell you. " * 8 +
        "</p></main></body></html>").encode()
LLAMA_ERROR_PAGE = "genai-eu-snapshots/Llama API/Terms of Service #legal-terms-of-service/2025-11-11T15-33-45Z.html"


def slow(handler) -> Response:  # type: ignore[no-untyped-def]
    time.sleep(3.5)
    return Response(200, GOOD, {"Content-Type": "text/html"})


def failures(corpus: Path) -> dict[str, tuple[object, str]]:
    """path -> (what the server does in the second cycle, the attempt outcome expected)."""
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    html = {"Content-Type": "text/html"}
    return {
        "/timeout": (slow, "timeout"),
        "/rate-limited": (Response(429, b"slow down", {"Retry-After": "3600"}), "rate_limited"),
        "/server-error": (Response(500, b"oops", {}), "http_error"),
        "/not-found": (Response(404, b"gone", {}), "http_error"),
        "/error-page": (Response(200, (corpus / LLAMA_ERROR_PAGE).read_bytes(), html), "invalid"),
        "/challenge": (Response(200, (TEST_DATA / "extract" / "cloudflare-challenge.html").read_bytes(), html),
                       "blocked"),
        "/login-wall": (Response(200, (TEST_DATA / "extract" / "login-wall.html").read_bytes(), html), "blocked"),
        "/huge": (Response(200, b"<html><body><main>" + b"x" * 3_000_000 + b"</main></body></html>", html),
                  "too_large"),
        "/gzip-bomb": (Response(200, bomb, {**html, "Content-Encoding": "gzip"}), "too_large"),
        # selectors that match nothing fall back to automatic location (tests/test_locate_drift.py); a page
        # that holds no terms then is still invalid
        "/selector-gone": (Response(200, b"<html><body><div id='app'>Loading...</div></body></html>", html),
                           "invalid"),
        "/stub": (Response(200, b"<html><body><main><h1>Terms of Use</h1><p>Redirecting to https://example.com/t"
                                b"</p></main></body></html>", html), "invalid"),
        "/not-modified": (None, "not_modified"),
    }


def test_every_failure_kind_is_recorded_and_makes_no_version_or_event(db_url, local_server, corpus) -> None:
    cases = failures(corpus)
    sources = [Source(id=path.strip("/"), provider="Example", title=path, url=local_server.url(path),
                      select=["main"] if path != "/selector-gone" else ["body > main"], expect="Terms of Use",
                      allow_private=True, respect_robots=False) for path in cases]
    for path in cases:
        local_server.serve(path, GOOD, ETag='"v1"')
    engine = connect(db_url)
    init_database(engine)
    recorder = Recorder(engine)
    settings = FetchSettings(read_timeout=1, total_timeout=3, retries=0, max_bytes=2_000_000,
                             respect_robots=False, per_host=20)
    first = run_cycle(recorder, sources, settings)
    assert first.new_versions == len(cases) and first.failed == 0

    for path, (behaviour, _) in cases.items():
        if behaviour is None:
            def not_modified(handler, path=path):  # type: ignore[no-untyped-def]
                if handler.headers.get("If-None-Match") == '"v1"':
                    return Response(304, b"", {"ETag": '"v1"'})
                return Response(200, GOOD, {"Content-Type": "text/html", "ETag": '"v1"'})
            local_server.pages[path] = not_modified
        else:
            local_server.pages[path] = behaviour
    second = run_cycle(recorder, sources, settings)

    outcomes = {outcome.source_id: outcome.attempt_outcome for outcome in second.outcomes}
    assert outcomes == {path.strip("/"): expected for path, (_, expected) in cases.items()}
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == len(cases)
        assert session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one() == 0
        stored = dict(session.execute(select(FetchAttempt.source_id, FetchAttempt.outcome)
                                      .where(FetchAttempt.outcome != "ok")).all())
    assert stored == {source: outcome for source, outcome in outcomes.items()}
