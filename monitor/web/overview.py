"""Pages across every source: search, the matrix of categories (as of any date) and the trends over time."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from monitor.clauses import CATEGORIES, RESTRICTIVE_CATEGORIES
from monitor.directions import DIRECTIONS
from monitor.store import history
from monitor.web import search
from monitor.web.queries import parse_date
from monitor.web.whole_history import all_events, brief_event, cached, last_changes, watched_clauses
from monitor.web.words import clause_labels

__all__ = ["matrix_page", "search_page", "trends_page"]


def search_page(session: Session, q: str = "", provider: str = "", category: str = "", direction: str = "",
                include_history: bool = False) -> dict[str, Any]:
    """Clauses holding every word of `q` in any inflection (or, without `q`, every watched clause), those in the
    taxonomy first, each with its text cut into pieces that match or not (for highlighting)."""
    q = q.strip()[:200]
    stems = search.query_stems(q)
    sources = {s["id"]: s for s in history.list_sources(session)}
    last = last_changes(session)
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
                        "last_change": brief_event(change) if change else None})
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
        for clause in watched_clauses(session):
            version = position[(clause["source"], clause["seq"])]
            for category in clause["categories"]:
                version["by_category"][category].append({k: clause[k] for k in ("key", "path", "heading", "text")})
        return {"versions": versions}
    return cached(session, "matrix_index", (), compute)


def matrix_page(session: Session, at: str | None = None) -> dict[str, Any]:
    moment = parse_date(at) if at else None
    index = _matrix_index(session)
    events_by_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in all_events(session):
        if moment is None or _moment(event["observed_at"]) <= moment:
            events_by_key[(event["source"], event["key"])].append(event)
    rows = []
    for source in history.list_sources(session):
        versions = index["versions"].get(source["id"], [])
        in_force = [v for v in versions if moment is None or _moment(v["observed_at"]) <= moment]
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
        for event in all_events(session):
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
    data = dict(cached(session, "trends", (), compute))
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


def _moment(value: str) -> dt.datetime:
    """A stored ISO 8601 time (`Z` for UTC) as a datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
