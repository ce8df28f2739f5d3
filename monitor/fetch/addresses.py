"""Address checks: a URL in, refused (`blocked`) or allowed out: plain http(s) only, and no private, loopback or
link-local address unless the source allows it (the one address rule of the HTTP and browser fetchers)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.fetch.failure import FetchFailure, describe_error
from monitor.sources import Source
from monitor.urls import Origin, parse_disagreement, urlsplit_origin

# Most specific first: 169.254/16 is both link-local and private, and link-local says more.
_REFUSED_KINDS = ("loopback", "link_local", "unspecified", "multicast", "private", "reserved")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refusal(address: Address) -> str | None:
    """Why an address may not be fetched without `allow_private` ("loopback", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in _REFUSED_KINDS:
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-global"


@dataclass(frozen=True)
class AddressPolicy:
    """Which private (loopback, link-local, private-range ...) addresses one source's requests may reach.

    `allow_private` covers the source URL's own scheme, host and port only; every other origin (a redirect,
    a browser page's images, frames and fetch() calls) is allowed private addresses only by
    `allow_private_redirects`. So a trusted intranet page cannot redirect the fetcher to 169.254.169.254.
    """

    home: Origin | None
    allow_private: bool = False
    allow_private_redirects: bool = False

    @classmethod
    def for_source(cls, source: Source) -> AddressPolicy:
        return cls(urlsplit_origin(source.url), source.allow_private,
                   getattr(source, "allow_private_redirects", False))

    def private_allowed(self, url: str) -> bool:
        if urlsplit_origin(url) == self.home:
            return self.allow_private
        return self.allow_private_redirects

    def setting_for(self, url: str) -> str:
        """The source field that would allow a private address at `url`."""
        return "allow_private" if urlsplit_origin(url) == self.home else "allow_private_redirects"


async def check_url(url: str, policy: AddressPolicy, resolver: Resolver) -> None:
    """Refuse (raise FetchFailure, `blocked`) a URL that is not plain http(s), or whose host resolves to an
    address the policy does not allow; resolving fails as `network_error`.

    The one address rule of both fetchers (HTTP and browser), applied to every request before it is made.
    A refusal is `blocked`, like a robots.txt refusal: both are our policy declining the fetch, never
    transient, and fixed by the source's configuration; the error text says which field.

    The HTTP fetcher then connects to the addresses checked here (`Resolver.resolved`), not to what the name
    resolves to by then, which a hostile DNS server could change (DNS rebinding); the browser's own client
    resolves it again (README, Security).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchFailure("blocked", f"refused scheme {parts.scheme or '(none)'!r} in {url}", url=url)
    if not parts.hostname:
        raise FetchFailure("blocked", f"refused URL without a host: {url}", url=url)
    ambiguous = parse_disagreement(url)
    if ambiguous:
        raise FetchFailure("blocked", f"refused {ambiguous}", url=url)
    if policy.private_allowed(url):
        return
    for address in await resolver.addresses(parts.hostname, url):
        kind = address_refusal(address)
        if kind:
            named = "" if parts.hostname == str(address) else f"{parts.hostname} is "
            raise FetchFailure("blocked", f"refused address: {named}{address} is a {kind} address, for {url} "
                                          f"(set {policy.setting_for(url)}: true on the source to allow it)", url=url)


class Resolver:
    """Host names to addresses through the event loop's getaddrinfo, cached for the run."""

    def __init__(self) -> None:
        self._cache: dict[str, asyncio.Future[list[Address]]] = {}

    def resolved(self, host: str) -> list[Address] | None:
        """The addresses `host` resolved to in this run (as a URL names it, or its IDNA form), if it has."""
        answer = self._cache.get(host) or self._cache.get(_unicode_host(host))
        if answer is None or not answer.done() or answer.cancelled() or answer.exception() is not None:
            return None
        return answer.result()

    async def addresses(self, host: str, url: str) -> list[Address]:
        with contextlib.suppress(ValueError):
            return [ipaddress.ip_address(host)]
        if host not in self._cache:
            self._cache[host] = asyncio.ensure_future(self._resolve(host, url))
        try:
            return await asyncio.shield(self._cache[host])
        except FetchFailure:
            self._cache.pop(host, None)  # a retry resolves again
            raise

    @staticmethod
    async def _resolve(host: str, url: str) -> list[Address]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise FetchFailure("network_error", f"cannot resolve {host}: {describe_error(error)}", url=url) from None
        return [ipaddress.ip_address(info[4][0]) for info in infos]


def _unicode_host(host: str) -> str:
    """An IDNA host ("xn--mnchen-3ya.de", as a connection names it) as urlsplit gives it ("münchen.de")."""
    if "xn--" not in host:
        return host
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host
