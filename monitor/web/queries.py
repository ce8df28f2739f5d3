"""Page data: a session and a page's parameters in, the plain dict the page (and its JSON mirror) shows out.

Everything here composes `monitor.store.history` / `monitor.store.queries`; no SQL. Results that need the
whole history (matrix, trends, search filters) are cached until the data changes (`data_stamp`).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from monitor.clauses import CATEGORIES, RESTRICTIVE_CATEGORIES
from monitor.directions import DIRECTIONS
from monitor.store import history
from monitor.store.history import NotFound
from monitor.web import diffs, search

DIRECTION_SYMBOLS = {"tightened": "▲", "loosened": "▼", "reworded": "≈", "unclear": "?"}
CATEGORY_LABELS = {
    "output_training": "Training on outputs",
    "competing_use": "Competing use",
    "reverse_engineering": "Reverse engineering",
    "automated_extraction": "Automated extraction",
    "access_circumvention": "Access circumvention",
    "output_training_permission": "Permission to train on outputs",
    "scale_threshold": "Scale threshold",
    "attribution_naming": "Attribution / naming",
    "use_policy": "Use policy",
    "geographic_restriction": "Geographic restriction",
}

# "now also a automated_extraction clause" (the reason as `changes` stores it) → "now also an automated
# extraction clause"
_CATEGORY_IN_REASON = re.compile(r"\b(?:(an?) )?(" + "|".join(sorted(CATEGORY_LABELS, key=len, reverse=True)) + r")\b")


def reason_in_words(reason: str) -> str:
    """A change's reason with category ids as words, and the article that goes with them."""
    def words(match: re.Match[str]) -> str:
        label = CATEGORY_LABELS[match.group(2)].lower().replace(" / ", " or ")
        if not match.group(1):
            return label
        return ("an " if label[0] in "aeiou" else "a ") + label
    return _CATEGORY_IN_REASON.sub(words, reason or "")


__all__ = [
    "CATEGORY_LABELS", "DIRECTIONS", "DIRECTION_SYMBOLS", "NotFound", "as_of_page", "changed_paragraphs",
    "clause_labels", "clause_page", "excerpt", "reason_in_words", "diff_page", "feed_page", "home_page", "matrix_page", "parse_date", "search_page",
    "source_page", "trends_page", "version_page",
]


# ---------------------------------------------------------------- caching until the data changes

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _stamp(session: Session) -> tuple[Any, ...]:
    """The data stamp, read once per session (one page): the site never writes, so it holds for the session."""
    if "data_stamp" not in session.info:
        session.info["data_stamp"] = history.data_stamp(session)
    return session.info["data_stamp"]


def _cached(session: Session, name: str, args: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
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


def _iso_to_dt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------- shared pieces


def _all_events(session: Session) -> list[dict[str, Any]]:
    """Every event, oldest first, with the heading of its clause's section (for saying where the clause is)."""
    def compute() -> list[dict[str, Any]]:
        headings = _headings(session)
        return [{**event, "heading": headings.get((event["source"], event["key"]), "")}
                for event in history.events(session)]
    return _cached(session, "events", (), compute)


def _headings(session: Session) -> dict[tuple[str, str], str]:
    """(source, clause key) → the heading the clause last stood under."""
    return {(clause["source"], clause["key"]): clause["heading"] or ""
            for clause in _watched_clauses(session)}


def _watched_clauses(session: Session) -> list[dict[str, Any]]:
    return _cached(session, "watched_clauses", (), lambda: history.watched_clauses_everywhere(session))


def _events_of(session: Session, source_id: str) -> list[dict[str, Any]]:
    """One source's events, oldest first (from the cached whole history: one query serves every page)."""
    def compute() -> dict[str, list[dict[str, Any]]]:
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in _all_events(session):
            by_source[event["source"]].append(event)
        return by_source
    return _cached(session, "events_by_source", (), compute).get(source_id, [])


def _last_changes(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """(source, key) → its newest event."""
    def compute() -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for event in _all_events(session):
            out[(event["source"], event["key"])] = event
        return out
    return _cached(session, "last_changes", (), compute)


def _brief_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its long fields, for lists: the clause's own words cut to an excerpt instead."""
    brief = {k: event[k] for k in ("id", "source", "provider", "title", "version", "observed_at", "key", "path",
                                   "kind", "categories", "direction", "reason", "alert", "technical")}
    brief["heading"] = event.get("heading", "")
    brief["excerpt"] = excerpt(event["after"] if event["kind"] != "removed" else event["before"])
    return brief


EXCERPT_CHARACTERS = 220


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The start of a clause's text on one line, cut at a word within `limit` characters."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(",;:") + " …"


def clause_labels(clauses: list[dict[str, Any]]) -> list[str]:
    """How to name each clause of a list: its path, and where two paths are equal (a document may number two
    clauses 1.5) the first words in which their texts differ, so no two names in the list are the same."""
    names = [clause["path"] or clause.get("heading") or "unnumbered clause" for clause in clauses]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        groups[name].append(index)
    labels = list(names)
    for name, members in groups.items():
        if len(members) > 1:
            for index, label in zip(members, _distinct_names(name, [clauses[i]["text"] for i in members])):
                labels[index] = label
    return labels


def _distinct_names(name: str, texts: list[str]) -> list[str]:
    """`name` and a quote from where the texts start to differ; numbered when the texts are the same."""
    words = [text.split() for text in texts]
    same = 0
    while all(len(w) > same for w in words) and len({w[same] for w in words}) == 1:
        same += 1
    start = max(0, same - 1)
    names = [f"{name} “{'… ' if start else ''}{excerpt(' '.join(w[start:]), 32)}”" for w in words]
    if len(set(names)) < len(names):
        names = [f"{name} ({number} of {len(texts)})" for number in range(1, len(texts) + 1)]
    return names


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


def _versions(session: Session, source_id: str) -> list[dict[str, Any]]:
    return _cached(session, "versions", (source_id,), lambda: history.versions_of(session, source_id))


def _version(session: Session, source_id: str, seq: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    versions = _versions(session, source_id)
    for version in versions:
        if version["seq"] == seq:
            return version, versions
    raise NotFound(f"source {source_id!r} has no version {seq}")


# ---------------------------------------------------------------- pages


def home_page(session: Session) -> dict[str, Any]:
    sources = history.list_sources(session)
    providers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for source in sources:
        providers[source["provider"]].append(source)
    events = _all_events(session)
    tightened = [_brief_event(e) for e in reversed(events) if e["direction"] == "tightened" and not e["technical"]]
    recent = [_brief_event(e) for e in reversed(events) if not e["technical"]]
    return {
        "providers": [{"provider": name, "sources": items} for name, items in providers.items()],
        "tightened": tightened[:20],
        "recent": recent[:20],
        "totals": {"sources": len(sources), "versions": sum(s["versions"] for s in sources),
                   "events": len(events), "tightened": sum(1 for e in events if e["direction"] == "tightened")},
    }


def source_page(session: Session, source_id: str) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    versions = _versions(session, source_id)
    by_version: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in _events_of(session, source_id):
        by_version[event["version"]].append(_brief_event(event))
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
        last = _last_changes(session)
        for clause in history.clauses_of_version(session, source_id, latest):
            change = last.get((source_id, clause["key"]))
            clauses.append({**clause, "last_change": _brief_event(change) if change else None})
    return {"source": source, "latest_seq": latest, "timeline": timeline, "clauses": clauses}


def version_page(session: Session, source_id: str, seq: int, as_of: str | None = None) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    version, versions = _version(session, source_id, seq)
    position = [v["seq"] for v in versions].index(seq)
    text = history.version_text(session, source_id, seq)
    following = versions[position + 1] if position + 1 < len(versions) else None
    events = [_brief_event(e) for e in _events_of(session, source_id) if e["version"] == seq]
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
        first = _versions(session, source_id)
        since = f" (first version {first[0]['observed_at']})" if first else ""
        raise NotFound(f"source {source_id!r} has no version on or before {date}{since}")
    return version_page(session, source_id, seq, as_of=date)


def clause_page(session: Session, source_id: str, key: str) -> dict[str, Any]:
    source = history.get_source(session, source_id)
    occurrences = history.clause_occurrences(session, source_id, key)
    if not occurrences:
        raise NotFound(f"source {source_id!r} has no clause {key!r}")
    versions = _versions(session, source_id)
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
    events = [e for e in _events_of(session, source_id) if e["key"] == key]
    latest = occurrences[-1]
    latest_version, _ = _version(session, source_id, latest["seq"])
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
    before, _ = _version(session, source_id, from_seq)
    after, versions = _version(session, source_id, to_seq)
    ops, complete = diffs.document_diff(history.version_text(session, source_id, from_seq)["text"],
                                        history.version_text(session, source_id, to_seq)["text"],
                                        (before["text_sha256"], after["text_sha256"]), budget)
    low, high = sorted((from_seq, to_seq))
    events = [_brief_event(e) for e in _events_of(session, source_id) if low < e["version"] <= high]
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
        versions = _versions(session, source["id"])
        for older, newer in zip(versions, versions[1:]):
            pairs.append(((older["text_sha256"], newer["text_sha256"]),
                          history.version_text(session, source["id"], older["seq"])["text"],
                          history.version_text(session, source["id"], newer["seq"])["text"]))
    return pairs


def search_page(session: Session, q: str = "", provider: str = "", category: str = "", direction: str = "",
                include_history: bool = False) -> dict[str, Any]:
    """Clauses holding every word of `q` in any inflection (or, without `q`, every watched clause), those in the
    taxonomy first, each with its text cut into pieces that match or not (for highlighting)."""
    q = q.strip()[:200]
    stems = search.query_stems(q)
    sources = {s["id"]: s for s in history.list_sources(session)}
    last = _last_changes(session)
    results = []
    rows = history.search_clause_text(session, search.prefilter(stems), latest_only=not include_history) \
        if stems or not q else []
    for row in rows:
        pieces = search.highlight(row["text"], stems) if stems else [(row["text"], False)]
        if pieces is None:
            continue
        source = sources[row["source"]]
        if provider and source["provider"] != provider:
            continue
        if category and category not in row["categories"]:
            continue
        change = last.get((row["source"], row["key"]))
        if direction and (change is None or change["direction"] != direction):
            continue
        results.append({**row, "provider": source["provider"], "title": source["title"],
                        "highlighted": [[piece, matched] for piece, matched in pieces],
                        "last_change": _brief_event(change) if change else None})
    results.sort(key=lambda result: not result["categories"])  # stable: watched clauses first, order kept
    return {
        "query": {"q": q, "provider": provider, "category": category, "direction": direction,
                  "history": include_history},
        "results": results,
        "providers": sorted({s["provider"] for s in sources.values()}),
        "categories": list(CATEGORIES),
        "directions": list(DIRECTIONS),
    }


def _matrix_index(session: Session) -> dict[str, Any]:
    """Per source: its versions, and per version the watched clauses by category (for any "as of" date)."""
    def compute() -> dict[str, Any]:
        versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for version in history.version_dates(session):
            versions[version["source"]].append({**version, "by_category": defaultdict(list)})
        position = {(s, v["seq"]): v for s, items in versions.items() for v in items}
        for clause in _watched_clauses(session):
            version = position[(clause["source"], clause["seq"])]
            for category in clause["categories"]:
                version["by_category"][category].append({k: clause[k] for k in ("key", "path", "heading", "text")})
        return {"versions": versions}
    return _cached(session, "matrix_index", (), compute)


def matrix_page(session: Session, at: str | None = None) -> dict[str, Any]:
    moment = parse_date(at) if at else None
    index = _matrix_index(session)
    events_by_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in _all_events(session):
        if moment is None or _iso_to_dt(event["observed_at"]) <= moment:
            events_by_key[(event["source"], event["key"])].append(event)
    rows = []
    for source in history.list_sources(session):
        versions = index["versions"].get(source["id"], [])
        in_force = [v for v in versions if moment is None or _iso_to_dt(v["observed_at"]) <= moment]
        row: dict[str, Any] = {"source": source["id"], "provider": source["provider"], "title": source["title"],
                               "kind": source["kind"], "seq": None, "observed_at": None, "cells": {}}
        if in_force:
            current = in_force[-1]
            row.update(seq=current["seq"], observed_at=current["observed_at"])
            for category in CATEGORIES:
                clauses = current["by_category"].get(category, [])
                if not clauses:
                    row["cells"][category] = None
                    continue
                start = len(in_force) - 1
                while start > 0 and in_force[start - 1]["by_category"].get(category):
                    start -= 1
                changes = [e for c in clauses for e in events_by_key.get((source["id"], c["key"]), [])]
                change = max(changes, key=lambda e: (e["observed_at"], e["id"])) if changes else None
                row["cells"][category] = {
                    "clauses": [{"key": c["key"], "path": c["path"], "label": label, "text": c["text"]}
                                for c, label in zip(clauses, clause_labels(clauses))],
                    "since": in_force[start]["observed_at"], "since_first_version": start == 0,
                    "last_change": None if change is None else {
                        "direction": change["direction"], "observed_at": change["observed_at"],
                        "version": change["version"], "key": change["key"], "kind": change["kind"]},
                }
        rows.append(row)
    return {"at": at, "categories": list(CATEGORIES), "restrictive": list(RESTRICTIVE_CATEGORIES), "rows": rows}


def trends_page(session: Session, by: str | None = None) -> dict[str, Any]:
    """Restrictions over time: per month, restrictive clauses added and removed, and clauses tightened and
    loosened, in total and by category and provider (technical versions left out)."""
    def compute() -> dict[str, Any]:
        counted = []
        for event in _all_events(session):
            if event["technical"]:
                continue
            restrictive = [c for c in event["categories"] if c in RESTRICTIVE_CATEGORIES]
            if event["kind"] == "added" and restrictive:
                measure = "added"
            elif event["kind"] == "removed" and restrictive:
                measure = "removed"
            elif event["direction"] in ("tightened", "loosened"):
                measure = event["direction"]
            else:
                continue
            counted.append((event["observed_at"][:7], measure, event))
        dates = [v["observed_at"][:7] for v in history.version_dates(session)]
        months = _month_range(min(dates), max(dates)) if dates else []
        empty = {"added": 0, "removed": 0, "tightened": 0, "loosened": 0}
        totals = {m: dict(empty) for m in months}
        groups: dict[str, dict[str, dict[str, dict[str, int]]]] = {"category": {}, "provider": {}}
        for month, measure, event in counted:
            totals[month][measure] += 1
            for name in (event["categories"] or ["(none)"]):
                groups["category"].setdefault(name, {m: dict(empty) for m in months})[month][measure] += 1
            groups["provider"].setdefault(event["provider"], {m: dict(empty) for m in months})[month][measure] += 1
        def rows(table: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
            return [{"month": m, **table[m], "more_restrictive": table[m]["added"] + table[m]["tightened"],
                     "less_restrictive": table[m]["removed"] + table[m]["loosened"]} for m in months]
        return {
            "months": months,
            "totals": rows(totals),
            "by_category": [{"group": name, "rows": rows(groups["category"][name])}
                            for name in CATEGORIES if name in groups["category"]],
            "by_provider": [{"group": name, "rows": rows(table)}
                            for name, table in sorted(groups["provider"].items())],
        }
    data = dict(_cached(session, "trends", (), compute))
    if by == "category":
        data.pop("by_provider")
    elif by == "provider":
        data.pop("by_category")
    data["by"] = by
    return data


def _month_range(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def feed_page(session: Session, source_id: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The newest clause events (of one source, or of all), newest first, for an Atom feed."""
    source = history.get_source(session, source_id) if source_id else None
    events = history.events(session, source_id=source_id, newest_first=True, limit=limit)
    return {"source": source, "events": events,
            "updated": events[0]["observed_at"] if events else "1970-01-01T00:00:00Z"}
