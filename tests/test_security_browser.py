"""The browser fetcher against hostile pages (issue 18, item 1), with the system Chromium and local servers.

Server `allowed` is the source's own host and port (allow_private: true lets the test reach it on 127.0.0.1);
`canary` is a second loopback server standing for a private service: nothing may reach it.
"""

from __future__ import annotations

import asyncio

import pytest

from conftest import LocalServer
from hostile import SECRET, canary, redirect
from monitor.fetch import FetchRequest, FetchSettings
from monitor.fetch.browser import fetch_with_browser
from monitor.sources import Source

SETTINGS = FetchSettings(total_timeout=20)


def render(url: str, *, validated: bool = True, **fields: object):  # type: ignore[no-untyped-def]
    values = {"id": "page", "provider": "Example", "title": "Terms", "url": url, "fetcher": "browser",
              "respect_robots": False, **fields}
    # validated=False builds the source as a tampered database or export could hold it, past validation
    source = Source(**values) if validated else Source.model_construct(**{**_defaults(), **values})
    return asyncio.run(fetch_with_browser([FetchRequest(source)], SETTINGS))[0]


def _defaults() -> dict[str, object]:
    return {name: field.default for name, field in Source.model_fields.items() if not field.is_required()}


@pytest.fixture
def private():  # type: ignore[no-untyped-def]
    with canary() as server:
        yield server


def test_backslash_at_url_that_a_browser_reads_as_loopback_is_refused(chromium: str, private: LocalServer) -> None:
    # urlsplit reads host 8.8.8.8 (public); Chromium reads 127.0.0.1:<canary port>.
    result = render(f"http://127.0.0.1:{private.port}\\@8.8.8.8/secret", validated=False)
    assert result.outcome == "blocked" and "ambiguous URL" in result.error
    assert SECRET.encode() not in result.body
    assert private.requests == []


def test_page_requests_to_another_private_server_are_aborted(chromium: str, local_server: LocalServer,
                                                           private: LocalServer) -> None:
    other = f"http://127.0.0.1:{private.port}"
    local_server.serve("/own.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    url = local_server.serve("/terms", f"""<!doctype html><html><body><main><h1>Terms of Use</h1>
<img src="/own.png"><img src="{other}/img.png"><iframe src="{other}/frame"></iframe>
<script src="{other}/script.js"></script>
<link rel="preconnect" href="{other}"><link rel="prefetch" href="{other}/prefetch">
<script>try {{ new WebSocket("ws://127.0.0.1:{private.port}/socket"); }} catch (e) {{}}</script>
<p id="out">waiting</p>
<script>fetch("{other}/fetch").then(r => r.text(), e => "refused: " + e)
  .then(t => document.getElementById("out").textContent = t);</script></main></body></html>""")
    result = render(url, allow_private=True)
    assert result.outcome == "ok", result.error
    assert "Terms of Use" in result.body.decode()
    assert SECRET.encode() not in result.body
    assert private.requests == []
    assert [path for _method, path, _headers in local_server.requests].count("/own.png") == 1


def test_redirect_of_the_page_to_another_private_server_is_a_blocked_capture(chromium: str,
                                                                            local_server: LocalServer,
                                                                            private: LocalServer) -> None:
    url = redirect(local_server, "/start", f"http://127.0.0.1:{private.port}/secret")
    result = render(url, allow_private=True)
    assert result.outcome == "blocked"
    assert f"127.0.0.1:{private.port}" in result.error or "127.0.0.1" in result.error
    assert "allow_private_redirects" in result.error
    assert private.requests == []


def test_script_navigation_to_another_private_server_is_a_blocked_capture(chromium: str,
                                                                         local_server: LocalServer,
                                                                         private: LocalServer) -> None:
    url = local_server.serve("/terms", f"""<!doctype html><html><body><main><h1>Terms</h1></main>
<script>location.href = "http://127.0.0.1:{private.port}/secret";</script></body></html>""")
    result = render(url, allow_private=True)
    assert result.outcome == "blocked" and "allow_private_redirects" in result.error
    assert private.requests == []


def test_allow_private_redirects_lets_the_redirect_through(chromium: str, local_server: LocalServer,
                                                          private: LocalServer) -> None:
    url = redirect(local_server, "/start", f"http://127.0.0.1:{private.port}/secret")
    result = render(url, allow_private=True, allow_private_redirects=True)
    assert result.outcome == "ok", result.error
    assert SECRET.encode() in result.body
    assert result.final_url == f"http://127.0.0.1:{private.port}/secret"


def test_loopback_page_without_allow_private_is_refused_before_chromium_starts_it(chromium: str,
                                                                                private: LocalServer) -> None:
    result = render(private.url("/secret"))
    assert result.outcome == "blocked" and "loopback" in result.error and "allow_private" in result.error
    assert private.requests == []
