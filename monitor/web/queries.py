"""Page data of one source: a session and a page's parameters in, the plain dict the page (and its JSON mirror)
shows out (home, source, version, as-of, clause, diff and feed pages).

Everything here composes `monitor.store.history` / `monitor.store.queries`; no SQL. What needs the whole
history is read through `whole_history` (cached until the data changes); the pages across every source
(search, matrix, trends) are `overview`, the words they show `words`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy.orm import Session

from monitor.directions import DIRECTIONS
from monitor.store import history
from monitor.store.history import NotFound
from monitor.web import diffs
from monitor.web.whole_history import all_events, brief_event, events_of, last_changes, version_of, versions_of

__all__ = [
    "NotFound", "as_of_page", "changed_paragraphs", "clause_page", "consecutive_diffs", "diff_page", "feed_page",
    "home_page", "parse_date", "source_page", "version_page",
]


# ---------------------------------------------------------------- dates

_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def parse_date(value: str) -> dt.datetime:
    """`2026-01-31` (the end of that day, so "as of" includes it) or an ISO 8601 time (UTC when no offset)."""
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NotFound(f"{value!r} is not a date (use ISO 8601: 2026-01-31 or 2026-01-31T09:00:00Z)") from None
    if _DATE.match(value):
        moment = moment + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------- shared pieces

def _summary(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    counts = Counter(event["direction"] for event in events)
    parts = [f"{counts[d]} {d}" for d in DIRECTIONS if counts[d]]
    return f"{len(events)} clause event{'s' if len(events) != 1 else ''}: {', '.join(parts)}"


def changed_paragraphs(ops: list[list[Any]] | list[tuple[int, str]], context: int = 0) -> list[list[list[Any]]]:
    """The paragraphs of a word diff that changed (as lists of [op, text]), so a long document stays readable."""
    paragraphs: list[list[list[Any]]] = [[]]
    for op, chunk in ops:
        for i, part in enumerate(chunk.split("\n\n")):
            if i:
                paragraphs.append([])
            if part:
                paragraphs[-1].append([op, part])
    changed = {i for i, p in enumerate(paragraphs) if any(op != 0 for op, _ in p)}
    keep = sorted({j for i in changed for j in range(i - context, i + context + 1) if 0 <= j < len(paragraphs)})
    return [paragraphs[i] for i in keep]


def _diff_stats(ops: list[list[Any]]) -> dict[str, int]:
    words = {-1: 0, 1: 0}
    for op, chunk in ops:
        if op:
            words[op] += len(chunk.split())
    return {"deleted_words": words[-1], "inserted_words": words[1]}


def _cite(source: dict[str, Any], version: dict[str, Any], clause: dict[str, Any] | None = None) -> str:
    snapshot = version.get("snapshot") or {}
    parts = [source["provider"], f"“{source['title']}”"]
    if clause:
        parts.append(f"clause {clause['path'] or clause['key']} (key {clause['key']})")
    parts.append(f"version {version['seq']}, in force from {version['observed_at']}")
    if source["url"]:  # imported history that no registry entry names has no known public URL
        parts.append(source["url"])
    if snapshot.get("origin"):
        parts.append(f"archived copy: {snapshot['origin']}")
    if snapshot.get("sha256"):
        parts.append(f"SHA-256 {snapshot['sha256']}")
    return ", ".join(parts) + "."



# ---------------------------------------------------------------- pages


def home_page(session: Session) -> dict[str, Any]:
    sources = history.list_sources(session)
    providers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for source in sources:
        providers[source["provider"]].append(source)
    events = all_events(session)
    tightened = [brief_event(e) for e in reversed(events) if e["direction"] == "tightened" and not e["technical"]]
    recent = [brief_event(e) for e in reversed(events) if not e["technical"]]
    return {
        "providers": [{"provider": name, "sources": items} for name, items in providers.items()],
        "tightened": tightened[:20],
        "recent": recent[:20],
        "totals": {"sources": len(sources), "versions": sum(s["versions"] for s in sources),
                   "events": len(events), "tightened": sum(1 for e in events if e["direction"] == "tightened")},
    }


def source_page(session: Session, source_id: str) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    versions = versions_of(session, source_id)
    by_version: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events_of(session, source_id):
        by_version[event["version"]].append(brief_event(event))
    timeline = []
    previous_length = None
    for version in versions:
        items = by_version.get(version["seq"], [])
        if version["seq"] == 1:
            what = "first version recorded"
        elif version["revert_of"]:
            what = f"back to the text of version {version['revert_of']}"
        elif version["technical"]:
            what = "technical version (re-extraction); no alerts"
        elif items:
            what = _summary(items)
        else:
            what = "text changed outside the watched clauses"
        delta = None if previous_length is None else version["length"] - previous_length
        previous_length = version["length"]
        timeline.append({**version, "events": items, "what": what, "length_delta": delta})
    timeline.reverse()
    latest = versions[-1]["seq"] if versions else None
    clauses = []
    if latest is not None:
        last = last_changes(session)
        for clause in history.clauses_of_version(session, source_id, latest):
            change = last.get((source_id, clause["key"]))
            clauses.append({**clause, "last_change": brief_event(change) if change else None})
    return {"source": source, "latest_seq": latest, "timeline": timeline, "clauses": clauses}


def version_page(session: Session, source_id: str, seq: int, as_of: str | None = None) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    version, versions = version_of(session, source_id, seq)
    position = [v["seq"] for v in versions].index(seq)
    text = history.version_text(session, source_id, seq)
    following = versions[position + 1] if position + 1 < len(versions) else None
    events = [brief_event(e) for e in events_of(session, source_id) if e["version"] == seq]
    return {
        "source": source,
        "version": {**version, "title": text["title"], "text": text["text"],
                    "in_force_until": following["observed_at"] if following else None},
        "previous_seq": versions[position - 1]["seq"] if position else None,
        "next_seq": following["seq"] if following else None,
        "latest_seq": versions[-1]["seq"],
        "events": events,
        "what": _summary(events),
        "clauses": history.clauses_of_version(session, source_id, seq),
        "as_of": as_of,
        "cite": _cite(source, version),
    }


def as_of_page(session: Session, source_id: str, date: str) -> dict[str, Any]:
    history.get_source(session, source_id)
    moment = parse_date(date)
    seq = history.seq_as_of(session, source_id, moment)
    if seq is None:
        first = versions_of(session, source_id)
        since = f" (first version {first[0]['observed_at']})" if first else ""
        raise NotFound(f"source {source_id!r} has no version on or before {date}{since}")
    return version_page(session, source_id, seq, as_of=date)


def clause_page(session: Session, source_id: str, key: str) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    occurrences = history.clause_occurrences(session, source_id, key)
    if not occurrences:
        raise NotFound(f"source {source_id!r} has no clause {key!r}")
    versions = versions_of(session, source_id)
    by_seq = {o["seq"]: o for o in occurrences}
    spans: list[dict[str, Any]] = []
    for index, version in enumerate(versions):
        occurrence = by_seq.get(version["seq"])
        state = occurrence["text"] if occurrence else None
        if spans and spans[-1]["_state"] == state and (occurrence is None or
                                                       spans[-1]["path"] == occurrence["path"]):
            spans[-1]["to_seq"] = version["seq"]
        else:
            if occurrence is None and not spans:
                continue  # before the clause first appeared
            spans.append({"_state": state, "present": occurrence is not None, "from_seq": version["seq"],
                          "to_seq": version["seq"], "from_date": version["observed_at"],
                          **({k: occurrence[k] for k in ("path", "heading", "lead", "text", "categories")}
                             if occurrence else {"path": None, "heading": "", "lead": "", "text": "",
                                                 "categories": []})})
        following = versions[index + 1]["observed_at"] if index + 1 < len(versions) else None
        spans[-1]["until_date"] = following
    for span in spans:
        del span["_state"]
    events = [e for e in events_of(session, source_id) if e["key"] == key]
    latest = occurrences[-1]
    latest_version, _ = version_of(session, source_id, latest["seq"])
    clause = {"key": key, "path": latest["path"], "heading": latest["heading"], "lead": latest["lead"],
              "text": latest["text"], "categories": latest["categories"], "rules": latest["rules"]}
    return {
        "source": source, "clause": clause,
        "present_now": latest["seq"] == versions[-1]["seq"],
        "latest_seq": latest["seq"],
        "spans": list(reversed(spans)),
        "events": list(reversed(events)),
        "cite": _cite(source, latest_version, clause),
    }


def _resolve_ref(session: Session, source_id: str, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    seq = history.seq_as_of(session, source_id, parse_date(ref))
    if seq is None:
        raise NotFound(f"source {source_id!r} has no version on or before {ref}")
    return seq


def diff_page(session: Session, source_id: str, from_ref: str, to_ref: str,
              budget: float | None = diffs.DEFAULT_BUDGET_SECONDS) -> dict[str, Any]:
    """Two versions' word diff (only the changed paragraphs), and the clause events in between."""
    source = history.get_source(session, source_id)
    from_seq, to_seq = _resolve_ref(session, source_id, from_ref), _resolve_ref(session, source_id, to_ref)
    before, _ = version_of(session, source_id, from_seq)
    after, versions = version_of(session, source_id, to_seq)
    ops, complete = diffs.document_diff(history.version_text(session, source_id, from_seq)["text"],
                                        history.version_text(session, source_id, to_seq)["text"],
                                        (before["text_sha256"], after["text_sha256"]), budget)
    low, high = sorted((from_seq, to_seq))
    events = [brief_event(e) for e in events_of(session, source_id) if low < e["version"] <= high]
    return {
        "source": source, "from": before, "to": after,
        "versions": [{"seq": v["seq"], "observed_at": v["observed_at"]} for v in versions],
        "identical": all(op == 0 for op, _ in ops),
        "word_level": complete,
        "stats": _diff_stats(ops),
        "paragraphs": changed_paragraphs(ops),
        "events": events,
    }


def consecutive_diffs(session: Session) -> list[tuple[tuple[str, str], str, str]]:
    """(key, before, after) of every pair of consecutive versions: what the pages link to, for prewarming."""
    pairs = []
    for source in history.list_sources(session):
        versions = versions_of(session, source["id"])
        for older, newer in zip(versions, versions[1:]):
            pairs.append(((older["text_sha256"], newer["text_sha256"]),
                          history.version_text(session, source["id"], older["seq"])["text"],
                          history.version_text(session, source["id"], newer["seq"])["text"]))
    return pairs


def feed_page(session: Session, source_id: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The newest clause events (of one source, or of all), newest first, for an Atom feed."""
    source = history.get_source(session, source_id) if source_id else None
    events = history.events(session, source_id=source_id, newest_first=True, limit=limit)
    return {"source": source, "events": events,
            "updated": events[0]["observed_at"] if events else "1970-01-01T00:00:00Z"}
