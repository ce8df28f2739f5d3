"""Shared fixtures: the real corpus, a local HTTP server, and databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
TEST_DATA = Path(__file__).resolve().parent / "data"


def require(message: str) -> None:
    """A missing tool or service fails the test in CI (CI=true) and skips it, with the reason, elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium for Playwright (Debian package `chromium`; nothing is downloaded)."""
    from monitor.fetch.browser import chromium_path

    path = chromium_path()
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        require("Chromium or playwright is missing (apt-get install chromium; pip install playwright)")
    return path  # type: ignore[return-value]


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real corpus beside the repository (../shared/corpus); skip clearly when absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"the real corpus is not at {CORPUS} (clone the repo next to shared/)")
    return CORPUS


# ---------------------------------------------------------------- local web server

@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[BaseHTTPRequestHandler], Response]


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose pages a test sets and changes between cycles.

    `server.pages[path]` is a Response or a callable taking the request handler and
    returning one; `server.requests` records (method, path, headers) of every request.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pages: dict[str, Response | Handler] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.requests.append(("GET", self.path, dict(self.headers.items())))
                page = outer.pages.get(self.path)
                if page is None:
                    response = Response(404, b"not found", {"Content-Type": "text/plain"})
                else:
                    response = page(self) if callable(page) else page
                try:
                    self.send_response(response.status)
                    headers = {"Content-Length": str(len(response.body)), **response.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
              status: int = 200, **headers: str) -> str:
        """Serve `body` at `path`; returns the page's URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Response(status, data, {"Content-Type": content_type, **headers})
        return self.url(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.close()


# ---------------------------------------------------------------- databases

POSTGRES_ADMIN_URL = os.environ.get("CLAUSEWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards.

    When the server cannot be reached the test fails in CI (CI=true) and is skipped, loudly, elsewhere.
    """
    import uuid

    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"cw_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        require(f"PostgreSQL at {admin} is not reachable: {error}")
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once on SQLite (a temporary file) and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clausewatch.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database shared by the tests of one module, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'clausewatch.db'}"
    else:
        yield from _postgres_database()
