"""HTTP/1.1 exchanges over httpcore: a URL and its request headers in, an `Answer` (status, headers, the body still
to be streamed) out, through one keep-alive connection pool per host, with the run's timeouts, TLS context and cookies.

httpcore is httpx's own transport layer. The crawl uses it directly because httpx's request and response models
cost as much client CPU as everything else a request does (BENCHMARKS.md, fetch CPU). What httpx did on top is
kept here: its URL parsing for the wire (normalised path, IDNA host, `InvalidURL`), ASCII request headers, its
headers class for replies, a cookie jar per host, and its exceptions' names in error texts (httpx renames
httpcore's to the same names). As with `trust_env=False` before, no proxy or netrc credentials are taken from the
environment: httpcore reads none.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from monitor.fetch.addresses import Address
from monitor.fetch.failure import FetchFailure, describe_error
from monitor.fetch.settings import FetchSettings
from monitor.fetch.streams import AsyncioBackend

_ACCEPT = b"text/html,application/xhtml+xml,text/markdown,text/plain;q=0.9,application/pdf;q=0.9,*/*;q=0.5"
# httpx.Limits' default: an idle connection is closed after 5 s.
_KEEPALIVE_EXPIRY = 5.0
# What an exchange can raise besides timeouts (httpcore's exceptions share no base class).
NETWORK_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, httpcore.ProxyError)
_TIMEOUT_NAMES = {httpcore.ConnectTimeout: "connect timeout", httpcore.ReadTimeout: "read timeout",
                  httpcore.WriteTimeout: "write timeout", httpcore.PoolTimeout: "no free connection in time"}


@dataclass(frozen=True)
class Answer:
    """A response whose body is not read yet: `body` yields its raw (still content-encoded) chunks."""

    status: int
    reason: str
    headers: httpx.Headers
    body: AsyncIterator[bytes]


class HostConnections:
    """One httpcore pool per host, made on first use, of `per_host` + 1 connections (the one more for robots.txt).

    A host's requests then always find its keep-alive connections, and httpcore, which scans a pool's every
    connection on each request, scans two or three (through httpx, bench/fetch_cpu.py measured a client per host
    at 0.69 ms of client CPU per request, clients of 5 connections shared by load at 0.86 ms, one client of all
    20 at 0.97 ms; this crawl, at 0.43 ms).
    """

    def __init__(self, settings: FetchSettings, resolved: Callable[[str], Sequence[Address] | None] | None = None
                 ) -> None:
        self._network = AsyncioBackend(resolved)  # connects to the addresses the hosts were checked at
        self._connections = settings.per_host + 1
        self._pools: dict[str, httpcore.AsyncConnectionPool] = {}
        self._cookies: dict[str, httpx.Cookies] = {}
        self._extensions = {"timeout": {"connect": settings.connect_timeout, "read": settings.read_timeout,
                                        "write": settings.read_timeout, "pool": settings.connect_timeout}}
        # In the order httpx's client sent them: Host, then these, then the request's own.
        self._headers = [(b"Connection", b"keep-alive"), (b"User-Agent", settings.user_agent.encode("ascii")),
                         (b"Accept", _ACCEPT),
                         # We decode ourselves (bounded, see bodies.Decoder), so only offer what zlib can do.
                         (b"Accept-Encoding", b"gzip, deflate")]

    @contextlib.asynccontextmanager
    async def get(self, url: str, host: str, headers: dict[str, str]) -> AsyncIterator[Answer]:
        """GET `url` on `host`'s pool; its body is to be read inside the block, and the connection goes back to
        the pool (or is closed, if the body was not read to its end) when the block ends. Network errors and
        httpcore's own timeouts, here or while the body is read, raise FetchFailure."""
        try:
            target = httpx.URL(url)
            cookies = self._cookies.setdefault(host, httpx.Cookies())
            request = httpcore.Request(b"GET", httpcore.URL(scheme=target.raw_scheme, host=target.raw_host,
                                                            port=target.port, target=target.raw_path),
                                       headers=self._request_headers(target, headers, cookies),
                                       extensions=self._extensions)
            response = await self._pool(host).handle_async_request(request)
            try:
                answer = _answer(response)
                if "set-cookie" in answer.headers:
                    cookies.extract_cookies(httpx.Response(answer.status, headers=answer.headers,
                                                           request=httpx.Request("GET", target)))
                yield answer
            finally:
                await response.aclose()
        except httpcore.TimeoutException as error:
            raise FetchFailure("timeout", f"{_TIMEOUT_NAMES.get(type(error), 'timeout')} on {url}", url=url) from None
        except (*NETWORK_ERRORS, httpx.InvalidURL, OSError) as error:
            raise FetchFailure("network_error", f"{describe_error(error)} on {url}", url=url) from None

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()

    def _pool(self, host: str) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(host)
        if pool is None:
            pool = self._pools[host] = httpcore.AsyncConnectionPool(
                ssl_context=ssl_context(), max_connections=self._connections,
                max_keepalive_connections=self._connections, keepalive_expiry=_KEEPALIVE_EXPIRY,
                network_backend=self._network)
        return pool

    def _request_headers(self, target: httpx.URL, headers: dict[str, str],
                         cookies: httpx.Cookies) -> list[tuple[bytes, bytes]]:
        request_headers = [(b"Host", target.netloc), *self._headers,
                           *((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items())]
        if cookies:  # the jar picks the cookies that go to this URL, as httpx's client did
            probe = httpx.Request("GET", target)
            cookies.set_cookie_header(probe)
            request_headers += [(name, value) for name, value in probe.headers.raw if name.lower() == b"cookie"]
        return request_headers


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~25 ms; every pool of every run shares one context.
    return httpx.create_ssl_context()


def _answer(response: httpcore.Response) -> Answer:
    phrase = response.extensions.get("reason_phrase")  # as httpx.Response.reason_phrase reads it
    reason = httpx.codes.get_reason_phrase(response.status) if phrase is None else phrase.decode("ascii", "ignore")
    return Answer(response.status, reason, httpx.Headers(response.headers), response.aiter_stream())
