"""Fetch stage against real local servers: outcomes, retries, limits, address checks, robots.txt, politeness."""

from __future__ import annotations

import gzip
import ipaddress
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import LocalServer, Response
from monitor.errors import UsageError
from monitor.fetch import FetchRequest, FetchSettings, fetch_source, fetch_sources, read_file
from monitor.fetch import addresses as fetch_addresses
from monitor.fetch.addresses import address_refusal
from monitor.fetch.http import parse_retry_after
from monitor.sources import Source

FAST = FetchSettings(backoff_base=0.01, backoff_max=0.05, connect_timeout=2, read_timeout=2, total_timeout=5)


def make_source(url: str, **fields: object) -> Source:
    values = {"id": "test", "provider": "Test", "title": "Terms", "url": url, "allow_private": True, **fields}
    return Source(**values)


def fetch(url: str, settings: FetchSettings = FAST, **fields: object):
    return fetch_source(FetchRequest(make_source(url, **fields)), settings)


def page_requests(server, path: str) -> list[dict[str, str]]:
    return [headers for _method, requested, headers in server.requests if requested == path]


def sequence(*responses: Response) -> Callable[[BaseHTTPRequestHandler], Response]:
    """A handler giving the responses in turn, then the last one forever."""
    remaining = list(responses)

    def handler(_request: BaseHTTPRequestHandler) -> Response:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return handler


# ---------------------------------------------------------------- servers

@pytest.fixture(scope="module")
def shared_server() -> Iterator[LocalServer]:
    server = LocalServer()
    # A fetch that stops reading (too_large, timeout) resets its connection; that is the point, not noise.
    server._server.handle_error = lambda *args: None
    yield server
    server.close()


@pytest.fixture
def local_server(shared_server: LocalServer) -> LocalServer:
    """conftest's server, shared by this module's tests (each stop of it costs half a second)."""
    shared_server.pages.clear()
    shared_server.requests.clear()
    return shared_server


class RawServer:
    """A threaded server whose `pages[path](handler)` writes the whole response itself."""

    def __init__(self) -> None:
        self.pages: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                page = outer.pages.get(self.path)
                try:
                    if page is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        page(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def chunked_forever(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(2000):  # 128 MiB if nobody stops reading
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.wfile.write(b"0\r\n\r\n")


# ---------------------------------------------------------------- outcomes

def test_ok_records_body_etag_and_user_agent(local_server):
    url = local_server.serve("/terms", "<h1>Terms</h1>", ETag='"v1"', **{"Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"})
    result = fetch(url)
    assert result.outcome == "ok" and result.ok
    assert result.body == b"<h1>Terms</h1>"
    assert result.http_status == 200
    assert result.content_type == "text/html; charset=utf-8"
    assert result.final_url == url
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.headers["etag"] == '"v1"'
    assert result.started_at.tzinfo is not None and result.started_at.utcoffset().total_seconds() == 0
    assert result.error is None
    agent = page_requests(local_server, "/terms")[0]["User-Agent"]
    assert agent.startswith("ClauseWatch/") and "https://github.com/clausewatch/clausewatch" in agent


def test_conditional_get_gives_not_modified(local_server):
    def handler(request: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, b"body", {"ETag": '"v1"'})

    local_server.pages["/terms"] = handler
    source = make_source(local_server.url("/terms"))
    result = fetch_source(FetchRequest(source, etag='"v1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT"), FAST)
    assert result.outcome == "not_modified"
    assert result.body == b"" and result.http_status == 304 and result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    sent = page_requests(local_server, "/terms")[0]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"


@pytest.mark.parametrize("etag", [b'"caf\xc3\xa9"', b'"caf\xe9"'], ids=["utf-8", "latin-1"])
def test_a_validator_beyond_ascii_gives_full_fetches_not_failures(raw_server, etag):
    # RFC 9110 allows such bytes in an ETag; sending one back used to fail every later fetch of the page.
    requests: list[bytes] = []

    def page(handler: BaseHTTPRequestHandler) -> None:
        requests.append(bytes(handler.headers.as_bytes()))
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: " + etag
                            + b"\r\nLast-Modified: Wed, 01 Jan 2025 00:00:00 GMT\xc2\xa0\r\n"
                            b"Content-Length: 14\r\n\r\n<h1>Terms</h1>")

    raw_server.pages["/terms"] = page
    source = make_source(raw_server.url("/terms"))
    first = fetch_source(FetchRequest(source), FAST)
    assert first.outcome == "ok" and first.etag and first.last_modified
    again = fetch_source(FetchRequest(source, etag=first.etag, last_modified=first.last_modified), FAST)
    assert (again.outcome, again.error, again.body) == ("ok", None, b"<h1>Terms</h1>")
    assert b"if-none-match" not in requests[1].lower() and b"if-modified-since" not in requests[1].lower()


def test_slow_response_times_out(local_server):
    def slow(_request: BaseHTTPRequestHandler) -> Response:
        time.sleep(1.5)
        return Response(200, b"late")

    local_server.pages["/slow"] = slow
    settings = FetchSettings(read_timeout=0.2, retries=0)
    began = time.monotonic()
    result = fetch(local_server.url("/slow"), settings)
    assert result.outcome == "timeout"
    assert "read timeout" in result.error
    assert time.monotonic() - began < 1.2


def test_total_timeout_bounds_a_trickling_body(raw_server):
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    raw_server.pages["/trickle"] = trickle
    result = fetch(raw_server.url("/trickle"), FetchSettings(total_timeout=0.3, retries=0))
    assert result.outcome == "timeout" and "total_timeout" in result.error


def test_rate_limited_then_ok_after_retry_after(local_server):
    local_server.pages["/terms"] = sequence(Response(429, b"slow down", {"Retry-After": "1"}), Response(200, b"fine"))
    began = time.monotonic()
    result = fetch(local_server.url("/terms"))
    assert result.outcome == "ok" and result.body == b"fine"
    assert time.monotonic() - began >= 0.95
    assert len(page_requests(local_server, "/terms")) == 2


def test_rate_limited_with_a_long_retry_after_gives_up(local_server):
    local_server.serve("/terms", "slow down", status=429, **{"Retry-After": "3600"})
    began = time.monotonic()
    result = fetch(local_server.url("/terms"))
    assert result.outcome == "rate_limited"
    assert result.http_status == 429 and "max_retry_after" in result.error
    assert result.headers["retry-after"] == "3600"
    assert time.monotonic() - began < 1
    assert len(page_requests(local_server, "/terms")) == 1


def test_server_error_is_retried(local_server):
    local_server.pages["/terms"] = sequence(Response(500, b"oops"), Response(502, b"oops"), Response(200, b"fine"))
    result = fetch(local_server.url("/terms"))
    assert result.outcome == "ok" and result.body == b"fine"
    assert len(page_requests(local_server, "/terms")) == 3


def test_server_error_gives_up_after_the_retries(local_server):
    local_server.serve("/terms", "oops", status=503)
    result = fetch(local_server.url("/terms"), FAST.model_copy(update={"retries": 1}))
    assert result.outcome == "http_error" and result.http_status == 503
    assert "after 2 attempts" in result.error
    assert len(page_requests(local_server, "/terms")) == 2


def test_overall_timeout_caps_the_retry_waits(local_server):
    local_server.serve("/terms", "busy", status=503, **{"Retry-After": "2"})
    began = time.monotonic()
    result = fetch(local_server.url("/terms"), FAST.model_copy(update={"overall_timeout": 1}))
    assert result.outcome == "http_error" and result.http_status == 503
    assert time.monotonic() - began < 1
    assert len(page_requests(local_server, "/terms")) == 1


def test_not_found_is_an_http_error_not_retried(local_server):
    result = fetch(local_server.url("/missing"))
    assert result.outcome == "http_error" and result.http_status == 404
    assert "404" in result.error and result.body == b""
    assert len(page_requests(local_server, "/missing")) == 1


def test_refused_connection_is_a_network_error(unused_port):
    result = fetch(f"http://127.0.0.1:{unused_port}/terms")
    assert result.outcome == "network_error"
    assert "ConnectError" in result.error


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- size limits

def test_content_length_over_the_limit_is_too_large(local_server):
    url = local_server.serve("/big", b"x" * 200_000)
    result = fetch(url, FAST.model_copy(update={"max_bytes": 100_000}))
    assert result.outcome == "too_large" and "Content-Length" in result.error
    assert result.body == b""


def test_chunked_body_over_the_limit_is_too_large(raw_server):
    raw_server.pages["/big"] = chunked_forever
    began = time.monotonic()
    result = fetch(raw_server.url("/big"), FAST.model_copy(update={"max_bytes": 1_000_000}))
    assert result.outcome == "too_large" and "stopped reading" in result.error
    assert time.monotonic() - began < 2


def test_gzip_body_is_decoded(local_server):
    url = local_server.serve("/gz", gzip.compress(b"<p>terms</p>" * 1000), **{"Content-Encoding": "gzip"})
    result = fetch(url)
    assert result.outcome == "ok" and result.body == b"<p>terms</p>" * 1000


def test_deflate_bodies_with_and_without_the_zlib_header_are_decoded(local_server):
    text = b"<p>terms</p>" * 1000
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    local_server.serve("/zlib", zlib.compress(text), **{"Content-Encoding": "deflate"})
    local_server.serve("/raw", raw.compress(text) + raw.flush(), **{"Content-Encoding": "deflate"})
    assert fetch(local_server.url("/zlib")).body == text
    assert fetch(local_server.url("/raw")).body == text


def test_unsupported_encoding_is_not_passed_on_as_a_body(local_server):
    url = local_server.serve("/br", b"\x0b\x02\x80terms\x03", **{"Content-Encoding": "br"})
    result = fetch(url)
    assert result.outcome == "network_error" and "Content-Encoding" in result.error
    assert len(page_requests(local_server, "/br")) == 1


def test_gzip_bomb_is_too_large_without_inflating_it(local_server):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 KB on the wire
    url = local_server.serve("/bomb", bomb, **{"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        result = fetch(url, FAST.model_copy(update={"max_bytes": 1_000_000}))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == "too_large"
    assert peak < 6 * 1024 * 1024, peak


# ---------------------------------------------------------------- addresses and redirects

@pytest.fixture
def loopback_one_is_public(monkeypatch):
    """Pretend 127.0.0.1 is a public address, so a non-private source can reach the test server."""
    real = fetch_addresses.address_refusal
    monkeypatch.setattr(fetch_addresses, "address_refusal",
                        lambda address: None if str(address) == "127.0.0.1" else real(address))


def test_loopback_url_without_allow_private_is_refused(local_server):
    url = local_server.serve("/terms", "secret")
    result = fetch(url, allow_private=False)
    assert result.outcome == "blocked"
    assert "refused address" in result.error and "loopback" in result.error
    assert local_server.requests == []


def test_name_resolving_to_loopback_is_refused(local_server):
    local_server.serve("/terms", "secret")
    result = fetch(f"http://localhost:{local_server.port}/terms", allow_private=False)
    assert result.outcome == "blocked" and "localhost" in result.error
    assert local_server.requests == []


def test_redirect_to_a_private_address_is_refused(local_server, loopback_one_is_public):
    local_server.serve("/start", "", status=302, Location="http://10.0.0.1/admin")
    result = fetch(local_server.url("/start"), allow_private=False)
    assert result.outcome == "blocked"
    assert "10.0.0.1" in result.error and "private" in result.error
    assert result.final_url == "http://10.0.0.1/admin"


def test_redirect_chain_is_followed_and_every_hop_checked(local_server, loopback_one_is_public):
    local_server.serve("/a", "", status=301, Location="/b")
    local_server.serve("/b", "", status=307, Location=local_server.url("/c"))
    local_server.serve("/c", "final")
    result = fetch(local_server.url("/a"), allow_private=False)
    assert result.outcome == "ok" and result.body == b"final"
    assert result.final_url == local_server.url("/c")

    local_server.serve("/c", "", status=302, Location="http://169.254.169.254/latest/meta-data/")
    result = fetch(local_server.url("/a"), allow_private=False)
    assert result.outcome == "blocked" and "link-local" in result.error
    assert len(page_requests(local_server, "/c")) == 2


def test_redirect_to_another_scheme_is_refused(local_server):
    local_server.serve("/start", "", status=302, Location="file:///etc/passwd")
    result = fetch(local_server.url("/start"))
    assert result.outcome == "blocked" and "scheme 'file'" in result.error


def test_too_many_redirects(local_server):
    for hop in range(12):
        local_server.serve(f"/r{hop}", "", status=302, Location=f"/r{hop + 1}")
    result = fetch(local_server.url("/r0"))
    assert result.outcome == "http_error" and "more than 10 redirects" in result.error
    assert len(page_requests(local_server, "/r10")) == 1
    assert page_requests(local_server, "/r11") == []


def test_address_refusal_kinds():
    kinds = {
        "127.0.0.1": "loopback", "10.1.2.3": "private", "192.168.1.1": "private",
        "169.254.169.254": "link-local", "0.0.0.0": "unspecified", "224.0.0.1": "multicast",
        "::1": "loopback", "::ffff:10.0.0.1": "private", "100.64.0.1": "non-global",
        "93.184.216.34": None, "2606:4700::1111": None,
    }
    for address, kind in kinds.items():
        assert address_refusal(ipaddress.ip_address(address)) == kind, address


# ---------------------------------------------------------------- robots.txt

def test_robots_disallow_blocks_and_can_be_overridden(local_server):
    local_server.serve("/robots.txt", "User-agent: ClauseWatch\nDisallow: /legal/\n", content_type="text/plain")
    local_server.serve("/legal/terms", "terms")
    local_server.serve("/open", "open")
    source = make_source(local_server.url("/legal/terms"))
    results = _run([FetchRequest(source), FetchRequest(make_source(local_server.url("/open")))], FAST)
    assert results[0].outcome == "blocked" and "robots.txt" in results[0].error
    assert results[1].outcome == "ok"
    assert page_requests(local_server, "/legal/terms") == []
    assert len(page_requests(local_server, "/robots.txt")) == 1

    assert fetch(local_server.url("/legal/terms"), respect_robots=False).outcome == "ok"
    assert fetch(local_server.url("/legal/terms"), FAST.model_copy(update={"respect_robots": False})).outcome == "ok"


def test_robots_for_other_agents_does_not_block(local_server):
    local_server.serve("/robots.txt", "User-agent: GPTBot\nDisallow: /\n", content_type="text/plain")
    assert fetch(local_server.serve("/terms", "terms")).outcome == "ok"


def test_robots_server_error_allows(local_server):
    local_server.serve("/robots.txt", "down", status=500)
    assert fetch(local_server.serve("/terms", "terms")).outcome == "ok"


# ---------------------------------------------------------------- politeness and the batch API

def _run(requests, settings, on_result=None):
    import asyncio

    return asyncio.run(fetch_sources(requests, settings, on_result))


def concurrency_counter(delay: float) -> tuple[Callable[[BaseHTTPRequestHandler], Response], dict[str, int]]:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(_request: BaseHTTPRequestHandler) -> Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(delay)
        with lock:
            state["now"] -= 1
        return Response(200, b"page")

    return handler, state


def test_per_host_limit_is_honoured_and_results_keep_their_order(local_server):
    handler, state = concurrency_counter(0.15)
    for index in range(8):
        local_server.pages[f"/p{index}"] = handler
    requests = [FetchRequest(make_source(local_server.url(f"/p{index}"), respect_robots=False)) for index in range(8)]
    seen = []
    results = _run(requests, FAST.model_copy(update={"per_host": 2, "concurrency": 10}),
                   lambda request, result: seen.append(request.source.url))
    assert [result.url for result in results] == [request.source.url for request in requests]
    assert all(result.ok for result in results)
    assert sorted(seen) == sorted(request.source.url for request in requests)
    assert state["max"] == 2


def test_per_host_delay_spaces_request_starts(local_server):
    for index in range(3):
        local_server.serve(f"/p{index}", "page")
    requests = [FetchRequest(make_source(local_server.url(f"/p{index}"), respect_robots=False)) for index in range(3)]
    began = time.monotonic()
    results = _run(requests, FAST.model_copy(update={"per_host": 3, "per_host_delay": 0.2}))
    assert all(result.ok for result in results)
    assert time.monotonic() - began >= 0.4


def test_empty_batch():
    assert _run([], FAST) == []


def test_retry_after_parsing():
    import datetime as dt

    now = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now) == 60
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_settings_are_validated():
    with pytest.raises(ValueError):
        FetchSettings(per_host=0)
    assert FetchSettings(contact_url="https://example.org/bot").user_agent.endswith("(+https://example.org/bot)")
    assert FetchSettings().robots_token == "ClauseWatch"


# ---------------------------------------------------------------- local files

@pytest.mark.parametrize(("name", "content_type"), [
    ("terms.html", "text/html"), ("terms.htm", "text/html"), ("terms.md", "text/markdown"),
    ("terms.txt", "text/plain"), ("terms.pdf", "application/pdf"),
])
def test_read_file(tmp_path, name, content_type):
    path = tmp_path / name
    path.write_bytes(b"# Terms\n")
    result = read_file(path)
    assert result.outcome == "ok" and result.body == b"# Terms\n"
    assert result.content_type == content_type
    assert result.url.startswith("file://") and result.url == result.final_url


def test_read_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        read_file(tmp_path / "nope.html")
