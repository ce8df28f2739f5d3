"""httpcore's network layer on asyncio streams: a host and port in, an `httpcore.AsyncNetworkStream` out (TCP, TLS,
reads and writes within their timeouts, httpcore's exceptions raised).

httpcore's own asyncio backend goes through anyio, whose cancel scope per read and write and whose socket
attributes, rebuilt on every keep-alive check, cost a sixth of the crawl's client CPU (BENCHMARKS.md, fetch CPU).
This one behaves as that backend does: happy eyeballs at 250 ms, TCP_NODELAY (asyncio's default), TLS without
waiting for the peer's close_notify, and the same exceptions with the same texts (a failed connect is "All
connection attempts failed"; a broken read or write has no text). A host the address rule checked is connected
to at the addresses it was checked at, not looked up again (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import socket
import ssl
from asyncio import staggered
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable

from monitor.fetch.addresses import Address

# anyio's, which httpcore's default backend passed on.
_HAPPY_EYEBALLS_DELAY = 0.25


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: asyncio's reader and writer behind httpcore's stream interface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._socket: socket.socket | None = writer.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout() from None
        except OSError as error:
            raise httpcore.ReadError() from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            if not self._writer.transport.get_write_buffer_size():
                await self._writer.drain()  # all sent: only reports a lost connection, never waits
                return
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout() from None
        except OSError as error:
            raise httpcore.WriteError() from error

    async def aclose(self) -> None:
        # As anyio's stream does in the end: no waiting for buffered writes or a TLS close_notify.
        self._writer.transport.abort()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout() from None
        except (ssl.SSLError, OSError, EOFError) as error:
            await self.aclose()
            raise httpcore.ConnectError(str(error)) from error
        return AsyncioStream(self._reader, self._writer)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle keep-alive connection with something to read was closed by the server. asyncio reads
            # as soon as data comes, so an end of stream it already saw is in the reader, not the socket.
            return self._reader.at_eof() or is_socket_readable(self._socket)
        if info in ("ssl_object", "socket"):
            return self._writer.get_extra_info(info)
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s: the network backend of the crawl's connection pools.

    `resolved(host)` gives the addresses a host was checked at (monitor/fetch/addresses.py): a host it knows is
    connected to at those, never resolved again, so that a DNS server cannot point it elsewhere after the check.
    """

    def __init__(self, resolved: Callable[[str], Sequence[Address] | None] | None = None) -> None:
        self._resolved = resolved

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[tuple[Any, ...]] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = self._resolved(host) if self._resolved is not None else None
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                if addresses:
                    reader, writer = await _connect_first(addresses, port, local)
                else:
                    reader, writer = await asyncio.open_connection(
                        host, port, happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY, local_addr=local)
        except TimeoutError:
            raise httpcore.ConnectTimeout() from None
        except socket.gaierror as error:
            raise httpcore.ConnectError(str(error)) from error
        except OSError as error:
            raise httpcore.ConnectError("All connection attempts failed") from error
        for option in socket_options or ():
            writer.get_extra_info("socket").setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect_first(addresses: Sequence[Address], port: int, local: tuple[str, int] | None
                         ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the first of `addresses` to answer, tried as asyncio tries a name's: the families
    interleaved, each attempt started _HAPPY_EYEBALLS_DELAY after the one before or as soon as it fails."""
    attempts = [functools.partial(asyncio.open_connection, str(address), port, local_addr=local)
                for address in _interleaved(addresses)]
    connection, _, errors = await staggered.staggered_race(attempts, _HAPPY_EYEBALLS_DELAY)
    if connection is None:
        raise next((error for error in errors if error is not None), OSError("no address to connect to"))
    return connection


def _interleaved(addresses: Sequence[Address]) -> list[Address]:
    """The addresses with their families alternating, the first address's family first (RFC 8305)."""
    by_family: dict[int, list[Address]] = {}
    for address in addresses:
        by_family.setdefault(address.version, []).append(address)
    rounds = itertools.zip_longest(*by_family.values())
    return [address for round_ in rounds for address in round_ if address is not None]
