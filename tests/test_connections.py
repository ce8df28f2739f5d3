"""The crawl's exchanges (fetch/connections, fetch/streams) against real local servers: TLS, the request as httpx
sent it, cookies, and keep-alive connections a server closed."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from conftest import LocalServer, Response
from monitor.fetch import FetchRequest, FetchSettings, fetch_source
from monitor.fetch import connections
from monitor.sources import Source

FAST = FetchSettings(retries=0, connect_timeout=2, read_timeout=2, total_timeout=5)


def make_request(url: str, **fields: object) -> FetchRequest:
    return FetchRequest(Source(id="test", provider="Test", title="Terms", url=url, allow_private=True, **fields))


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server._server.handle_error = lambda *args: None  # a refused TLS handshake is the point of one test
    yield server
    server.close()


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(local_server: LocalServer, certificate_authority: trustme.CA) -> LocalServer:
    """conftest's server speaking TLS, its certificate (for 127.0.0.1) issued by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    local_server._server.socket = context.wrap_socket(local_server._server.socket, server_side=True)
    return local_server


def https_url(server: LocalServer, path: str) -> str:
    return server.url(path).replace("http://", "https://")


def test_https_is_fetched_through_the_shared_tls_context(https_server, certificate_authority, monkeypatch):
    trusting = ssl.create_default_context()
    certificate_authority.configure_trust(trusting)
    monkeypatch.setattr(connections, "ssl_context", lambda: trusting)
    https_server.serve("/terms", "<h1>Terms</h1>")
    result = fetch_source(make_request(https_url(https_server, "/terms")), FAST)
    assert result.outcome == "ok" and result.body == b"<h1>Terms</h1>"


def test_an_untrusted_certificate_is_a_network_error(https_server):
    https_server.serve("/terms", "<h1>Terms</h1>")
    url = https_url(https_server, "/terms")
    result = fetch_source(make_request(url), FAST)
    assert result.outcome == "network_error"
    assert result.error.startswith("ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert result.error.endswith(f" on {url}")


def test_the_request_goes_out_as_httpx_sent_it(local_server):
    """Host with its port first, then the crawl's headers in httpx's order; the path percent-encoded."""
    local_server.serve("/terms/caf%C3%A9", "<h1>Terms</h1>")
    result = fetch_source(make_request(local_server.url("/terms/café"), language="en"), FAST)
    assert result.outcome == "ok"
    (method, path, headers), = [entry for entry in local_server.requests if entry[1] != "/robots.txt"]
    assert (method, path) == ("GET", "/terms/caf%C3%A9")
    assert list(headers) == ["Host", "Connection", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language"]
    assert headers["Host"] == f"127.0.0.1:{local_server.port}"
    assert headers["Accept-Encoding"] == "gzip, deflate" and headers["Connection"] == "keep-alive"
    assert headers["User-Agent"] == FAST.user_agent and headers["Accept-Language"] == "en"


def test_a_cookie_a_host_sets_goes_back_to_it_on_the_next_hop(local_server):
    """As httpx's client per host did: a consent page that sets a cookie and redirects is not a loop."""
    local_server.pages["/terms"] = lambda handler: (
        Response(200, b"<h1>Terms</h1>") if "consent=yes" in (handler.headers.get("Cookie") or "")
        else Response(302, b"", {"Location": "/terms", "Set-Cookie": "consent=yes; Path=/"}))
    result = fetch_source(make_request(local_server.url("/terms")), FAST)
    assert result.outcome == "ok" and result.body == b"<h1>Terms</h1>"
    assert [headers.get("Cookie") for _, path, headers in local_server.requests if path == "/terms"] == \
        [None, "consent=yes"]


class OneAnswerServer:
    """Answers the first request of each connection (keep-alive, no `Connection: close`), then closes it."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self._socket.close()


def test_a_keep_alive_connection_the_server_closed_is_not_reused():
    server = OneAnswerServer()
    try:
        # robots.txt, then the page: the delay lets the server's close arrive before the second request.
        settings = FAST.model_copy(update={"per_host_delay": 0.3})
        result = fetch_source(make_request(f"http://127.0.0.1:{server.port}/terms"), settings)
    finally:
        server.close()
    assert result.outcome == "ok" and result.body == b"ok"
    assert server.connections == 2
