"""The whole history as the pages read it: every event (with its clause's heading), the watched clauses and each
source's versions, cached until the data changes (`data_stamp`); and an event's brief form for lists."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from monitor.store import history
from monitor.store.history import NotFound
from monitor.web.words import excerpt

__all__ = ["all_events", "brief_event", "cached", "clear_cache", "events_of", "last_changes", "version_of",
           "versions_of", "watched_clauses"]

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _stamp(session: Session) -> tuple[Any, ...]:
    """The data stamp, read once per session (one page): the site never writes, so it holds for the session."""
    if "data_stamp" not in session.info:
        session.info["data_stamp"] = history.data_stamp(session)
    return session.info["data_stamp"]


def cached(session: Session, name: str, args: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    key = (id(session.get_bind()), _stamp(session), name, args)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def all_events(session: Session) -> list[dict[str, Any]]:
    """Every event, oldest first, with the heading of its clause's section (for saying where the clause is)."""
    def compute() -> list[dict[str, Any]]:
        headings = _headings(session)
        return [{**event, "heading": headings.get((event["source"], event["key"]), "")}
                for event in history.events(session)]
    return cached(session, "events", (), compute)


def _headings(session: Session) -> dict[tuple[str, str], str]:
    """(source, clause key) → the heading the clause last stood under."""
    return {(clause["source"], clause["key"]): clause["heading"] or ""
            for clause in watched_clauses(session)}


def watched_clauses(session: Session) -> list[dict[str, Any]]:
    return cached(session, "watched_clauses", (), lambda: history.watched_clauses_everywhere(session))


def events_of(session: Session, source_id: str) -> list[dict[str, Any]]:
    """One source's events, oldest first (from the cached whole history: one query serves every page)."""
    def compute() -> dict[str, list[dict[str, Any]]]:
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in all_events(session):
            by_source[event["source"]].append(event)
        return by_source
    return cached(session, "events_by_source", (), compute).get(source_id, [])


def last_changes(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """(source, key) → its newest event."""
    def compute() -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for event in all_events(session):
            out[(event["source"], event["key"])] = event
        return out
    return cached(session, "last_changes", (), compute)


def brief_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its long fields, for lists: the clause's own words cut to an excerpt instead."""
    brief = {k: event[k] for k in ("id", "source", "provider", "title", "version", "observed_at", "key", "path",
                                   "kind", "categories", "direction", "reason", "alert", "technical")}
    brief["heading"] = event.get("heading", "")
    brief["excerpt"] = excerpt(event["after"] if event["kind"] != "removed" else event["before"])
    return brief


def versions_of(session: Session, source_id: str) -> list[dict[str, Any]]:
    return cached(session, "versions", (source_id,), lambda: history.versions_of(session, source_id))


def version_of(session: Session, source_id: str, seq: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    versions = versions_of(session, source_id)
    for version in versions:
        if version["seq"] == seq:
            return version, versions
    raise NotFound(f"source {source_id!r} has no version {seq}")
