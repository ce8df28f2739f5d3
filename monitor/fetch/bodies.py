"""Response bodies: an `Answer` (its body still to be streamed) in, a `Reply` out, its body decoded and read no
further than the byte limit (before or after decompression: gzip bombs stop early); unused bodies drained for
keep-alive."""

from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass

import httpcore
import httpx

from monitor.fetch.connections import NETWORK_ERRORS, Answer
from monitor.fetch.failure import FetchFailure

# Reading a small error or redirect body lets the connection go back to the pool.
_DRAIN_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange's answer: where it came from, its status and headers, and the body of a 2xx."""

    url: str
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes = b""


async def read_reply(answer: Answer, url: str, max_bytes: int, truncate: bool) -> Reply:
    """The reply to one request; the body is read only for a 2xx (`truncate`: cut at `max_bytes`, not refused)."""
    if not 200 <= answer.status < 300:
        await _drain(answer)
        return Reply(url, answer.status, answer.reason, answer.headers)
    body = await _read_body(answer, url, max_bytes, truncate)
    return Reply(url, answer.status, answer.reason, answer.headers, body)


async def _read_body(answer: Answer, url: str, max_bytes: int, truncate: bool) -> bytes:
    """The decoded body, streamed; stops as soon as it passes `max_bytes` (before or after decompression)."""
    length = answer.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes and not truncate:
        raise FetchFailure("too_large", f"Content-Length {length} is over the {max_bytes}-byte limit",
                           status=answer.status, url=url, headers=answer.headers, transient=False)
    decoder = Decoder(answer.headers.get("content-encoding", ""), url)
    chunks: list[bytes] = []
    size = 0
    async for raw in answer.body:
        data = decoder.feed(raw, max_bytes - size)
        chunks.append(data)
        size += len(data)
        if size > max_bytes:
            if truncate:
                return b"".join(chunks)[:max_bytes]
            raise FetchFailure("too_large", f"body is over the {max_bytes}-byte limit (stopped reading)",
                               status=answer.status, url=url, headers=answer.headers, transient=False)
    return b"".join(chunks) + decoder.flush()


async def _drain(answer: Answer) -> None:
    length = answer.headers.get("content-length", "")
    if not length.isdigit() or int(length) > _DRAIN_MAX_BYTES:
        return
    with contextlib.suppress(*NETWORK_ERRORS, httpcore.TimeoutException):
        async for _chunk in answer.body:
            pass


class Decoder:
    """Content-Encoding decoding that never inflates more than it is allowed to (gzip bombs)."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self.url = url
        if self.encoding in ("", "identity"):
            self._zlib = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FetchFailure("network_error", f"unsupported Content-Encoding {encoding!r} on {url}",
                               url=url, transient=False)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode a chunk into at most room + 1 bytes: one more than fits means too large."""
        if self._zlib is None:
            return data
        try:
            return self._decompress(data, room)
        except zlib.error as error:
            raise FetchFailure("network_error", f"corrupt {self.encoding} body on {self.url}: {error}",
                               url=self.url) from None

    def _decompress(self, data: bytes, room: int) -> bytes:
        if not self._started and self.encoding == "deflate":
            self._started = True
            try:
                return self._zlib.decompress(data, room + 1)
            except zlib.error:
                # Some servers send raw deflate without the zlib header.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self._started = True
        return self._zlib.decompress(data, room + 1)

    def flush(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""
