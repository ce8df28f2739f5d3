"""Hostile local servers for the security tests (issue 18), all on 127.0.0.1 and all stopping with the test.

- `canary()`: a LocalServer that stands for a private service; a test asserts it was never asked anything.
- `redirect(server, path, to)`: one redirect hop on any LocalServer.
- `SlowReceiver`: a webhook receiver that takes `delay` seconds over each delivery and counts every
  delivery of every message id, to catch duplicates when several processes deliver at once.
- Hostile bodies for the fetch/ingest path: `pdf_bomb()` (a font's /ToUnicode stream that inflates past
  pypdf's limit, which pypdf raises through text extraction), `random_bytes(size)`, `nested_divs(depth)`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import LocalServer

SECRET = "INTERNAL-SECRET-DO-NOT-STORE"


@contextlib.contextmanager
def canary() -> Iterator[LocalServer]:
    """A private service: its page holds SECRET; `server.requests` shows whether anyone reached it."""
    server = LocalServer()
    for path in ("/", "/secret", "/img.png", "/frame", "/fetch", "/script.js"):
        server.serve(path, f"<html><body><main><h1>{SECRET}</h1></main></body></html>")
    try:
        yield server
    finally:
        server.close()


def redirect(server: LocalServer, path: str, to: str, status: int = 302) -> str:
    """Make `path` on `server` redirect to `to`; returns the redirecting URL."""
    return server.serve(path, "", status=status, Location=to)


class SlowReceiver:
    """A webhook receiver on 127.0.0.1 that sleeps `delay` seconds before answering each POST."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.deliveries: collections.Counter[str] = collections.Counter()
        self.items: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(outer.delay)
                outer._record(self.headers.get("X-ClauseWatch-Id", ""), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, message_id: str, body: bytes) -> None:
        with self._lock:
            self.deliveries[message_id] += 1
            with contextlib.suppress(ValueError):
                payload = json.loads(body)
                for item in payload.get("items") or [payload]:
                    self.items[str(item.get("id") or item.get("key") or message_id)] += 1

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {key: count for key, count in self.deliveries.items() if count > 1}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlowReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def pdf_bomb(inflated: int = 100 * 1024 * 1024) -> bytes:
    """A one-page PDF (about 100 KB) whose font's /ToUnicode map inflates to `inflated` bytes of spaces."""
    bomb = zlib.compress(b" " * inflated, 9)
    content = b"BT /F1 12 Tf 72 720 Td (Terms of Use) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(bomb), bomb),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def random_bytes(size: int, seed: int = 18) -> bytes:
    """`size` random bytes, the same for the same seed."""
    return random.Random(seed).randbytes(size)


def nested_divs(depth: int, inner: str) -> str:
    """A terms page whose text sits inside `depth` nested <div>s, with a paragraph after them."""
    return ("<html><head><title>Terms of Use</title></head><body><main><h1>Terms of Use</h1>" + "<div>" * depth
            + f"<p>{inner}</p>" + "</div>" * depth + "<p>Last paragraph, after the nesting.</p></main></body></html>")
