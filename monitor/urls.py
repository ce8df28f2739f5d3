"""URL parsing two ways: a URL in, whether Python's `urlsplit` and the WHATWG URL standard (what browsers,
Chromium included, follow) read the same scheme, host and port out of it.

They disagree on hostile spellings: `http://127.0.0.1:8080\\@8.8.8.8/` is host 8.8.8.8 to urlsplit and
127.0.0.1 to a browser, so an address check made on one parse says nothing about the other. A URL whose
parses disagree is refused everywhere (validation, HTTP fetcher, browser fetcher).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import ada_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Both parses are pure; a request reads its URL's origin three or four times (validation, the address rule,
# the source's own origin), and a daemon every source's URL each cycle.
_CACHED_URLS = 8192


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port as a connection uses them (default ports filled in, IPv6 without brackets)."""

    scheme: str
    host: str
    port: int | None


@functools.lru_cache(maxsize=_CACHED_URLS)
def whatwg_origin(url: str) -> Origin | None:
    """The origin a browser reads from `url`, or None if the WHATWG parser rejects it."""
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    scheme = parsed.protocol.rstrip(":")
    port = int(parsed.port) if parsed.port else _DEFAULT_PORTS.get(scheme)
    return Origin(scheme, parsed.hostname.strip("[]"), port)


@functools.lru_cache(maxsize=_CACHED_URLS)
def urlsplit_origin(url: str) -> Origin | None:
    """The origin Python's urlsplit (and so this program's checks) reads from `url`, or None if unreadable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "")
    return Origin(scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme))


def parse_disagreement(url: str) -> str | None:
    """Why `url` is ambiguous (its two parses differ, or one fails), or None when both read the same origin."""
    ours, browsers = urlsplit_origin(url), whatwg_origin(url)
    if ours is None or browsers is None:
        which = "Python's parser" if ours is None else "the WHATWG (browser) parser"
        return f"{which} cannot read the URL {url!r}"
    if ours != browsers:
        return (f"ambiguous URL {url!r}: read as {_show(ours)} here but as {_show(browsers)} by a browser "
                f"(write the URL plainly)")
    return None


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host


def _show(origin: Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    return f"{origin.scheme}://{host}:{origin.port}"
