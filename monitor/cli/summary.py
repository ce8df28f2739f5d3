"""Failed captures of one crawl cycle in, the lines that group them by failure kind and host out."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HOSTS_SHOWN = 5
_URL = re.compile(r"\s*(?:on|from|for)?\s*https?://\S+")
_ATTEMPTS = re.compile(r"\s*\(after \d+ attempts\)")


@dataclass
class FailureGroup:
    """The failed sources that share a failure kind and a cause, by host."""

    kind: str
    cause: str
    sources_by_host: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def sources(self) -> int:
        return sum(len(ids) for ids in self.sources_by_host.values())

    def line(self) -> str:
        hosts = sorted(self.sources_by_host.items(), key=lambda item: (-len(item[1]), item[0]))
        shown = ", ".join(f"{host} ({len(ids)})" if len(ids) > 1 else host for host, ids in hosts[:HOSTS_SHOWN])
        more = f" and {len(hosts) - HOSTS_SHOWN} more hosts" if len(hosts) > HOSTS_SHOWN else ""
        count = f"{self.sources} source{'s' if self.sources != 1 else ''}"
        return f"{self.kind}: {self.cause}: {count} on {shown}{more}"


def failure_cause(error: str, host: str) -> str:
    """An error without what differs from source to source (its URL, its host, its retries)."""
    cause = _ATTEMPTS.sub("", _URL.sub("", error))
    return (cause.replace(host, "<host>") if host else cause).strip() or "no detail"


def group_failures(failures: Iterable[tuple[str, str, str]], urls: Mapping[str, str]) -> list[FailureGroup]:
    """(source id, attempt outcome, error) of each failed capture, grouped by kind and cause, largest first;
    `urls` gives each source's URL, whose host names it in the group."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for source_id, kind, error in failures:
        url = urls.get(source_id, "")
        host = (urlsplit(url).netloc or url) if "://" in url else url
        cause = failure_cause(error, urlsplit(url).hostname or "")
        group = groups.setdefault((kind, cause), FailureGroup(kind, cause))
        group.sources_by_host[host].append(source_id)
    return sorted(groups.values(), key=lambda group: (-group.sources, group.kind, group.cause))
