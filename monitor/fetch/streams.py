"""httpcore's network layer on asyncio streams: a host and port in, an `httpcore.AsyncNetworkStream` out (TCP, TLS,
reads and writes within their timeouts, httpcore's exceptions raised).

httpcore's own asyncio backend goes through anyio, whose cancel scope per read and write and whose socket
attributes, rebuilt on every keep-alive check, cost a sixth of the crawl's client CPU (BENCHMARKS.md, fetch CPU).
This one behaves as that backend does: happy eyeballs at 250 ms, TCP_NODELAY (asyncio's default), TLS without
waiting for the peer's close_notify, and the same exceptions with the same texts (a failed connect is "All
connection attempts failed"; a broken read or write has no text).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable

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
    """Opens `AsyncioStream`s: the network backend of the crawl's connection pools."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[tuple[Any, ...]] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
                    local_addr=(local_address, 0) if local_address else None)
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
