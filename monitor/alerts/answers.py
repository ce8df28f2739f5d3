"""Use subscriptions: a newly recorded version in; for each route that names uses, a message per use whose
answer changed (old answer, new answer, the clause changes that caused it) out, written to the outbox.

Called by `monitor.alerts.outbox.queue_notifications` in the transaction that stores the version, so an answer
change is queued with the version that made it and sent after the commit like every other alert.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.diffs import diff_as_text
from monitor.errors import ConfigError
from monitor.store.models import ChangeEvent, SourceRow, Version
from monitor.timestamps import iso
from monitor.uses.answer import Answer, answer_use
from monitor.uses.history import answer_changed
from monitor.uses.model import Use, load_uses, uses_path
from monitor.uses.queries import previous_version, version_clauses

log = logging.getLogger(__name__)

ANSWER_CHANGE = "answer_change"
USES_PAGE = "/uses/{use}"


def subscribed_routes(config: Any) -> list[Any]:
    """The routes of clausewatch.yaml that name uses."""
    return [route for route in config.routes if getattr(route, "uses", None)]


def answer_change_items(session: Session, config: Any, source: SourceRow, version: Version,
                        snapshot_sha256: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, delivery, item) for every subscribed use whose answer this version changes."""
    routes = [route for route in subscribed_routes(config) if _route_covers(route, source)]
    if not routes:
        return []
    before = previous_version(session, source.id, version.seq)
    if before is None:  # a document's first version sets its answers; it changes none
        return []
    after = version_clauses(session, version.id, version.seq, version.observed_at)
    uses = _uses_by_id()
    out: list[tuple[str, str, dict[str, Any]]] = []
    for use_id in dict.fromkeys(use_id for route in routes for use_id in route.uses):
        use = uses.get(use_id)
        if use is None:
            log.warning("route names use %r, which the uses file in force (%s) does not hold", use_id,
                        uses_path()[0])
            continue
        old = answer_use(use, before.clauses, source.provider)
        new = answer_use(use, after.clauses, source.provider)
        if not answer_changed(old, new):
            continue
        item = _item(session, config, use, source, version, old, new, snapshot_sha256)
        chosen: dict[str, str] = {}
        for route in routes:
            if use_id in route.uses:
                for channel in route.channels:
                    if chosen.get(channel) != "immediate":
                        chosen[channel] = route.delivery_mode
        out += [(channel, delivery, item) for channel, delivery in chosen.items()]
    return out


def _route_covers(route: Any, source: SourceRow) -> bool:
    if route.sources and source.id not in route.sources:
        return False
    return not route.providers or source.provider.casefold() in {p.casefold() for p in route.providers}


def _uses_by_id() -> dict[str, Use]:
    file, _ = uses_path()
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _read_uses(str(file), stamp)


@functools.lru_cache(maxsize=4)
def _read_uses(file: str, stamp: int) -> dict[str, Use]:
    try:
        return {use.id: use for use in load_uses(Path(file))[1]}
    except ConfigError as error:  # the recording transaction must not fail on a broken uses file
        log.warning("cannot read the uses file for subscriptions: %s", error)
        return {}


def _item(session: Session, config: Any, use: Use, source: SourceRow, version: Version, old: Answer, new: Answer,
          snapshot_sha256: str | None) -> dict[str, Any]:
    keys = {clause.key for clause in old.clauses + new.clauses}
    events = list(session.execute(select(ChangeEvent).where(ChangeEvent.version_id == version.id)
                                  .order_by(ChangeEvent.id)).scalars())
    causes = [event for event in events if event.key in keys] or events
    page = USES_PAGE.format(use=use.id)
    return {
        "type": ANSWER_CHANGE, "use": use.id, "use_title": use.title or use.describe(),
        "source": source.id, "provider": source.provider, "title": source.title, "url": source.url,
        "version": version.seq, "observed_at": iso(version.observed_at), "at": iso(version.observed_at),
        "old": _answer_payload(old), "new": _answer_payload(new),
        "changes": [{"key": event.key, "path": event.path, "kind": event.kind, "direction": event.direction,
                     "before": event.before, "after": event.after, "diff": [list(op) for op in event.diff]}
                    for event in causes],
        "history_url": (config.base_url + page) if getattr(config, "base_url", None) else None,
        "snapshot_sha256": snapshot_sha256,
    }


def _answer_payload(answer: Answer) -> dict[str, Any]:
    return {"answer": answer.answer, "conditions": list(answer.conditions), "reason": answer.reason,
            "clauses": [{"key": clause.key, "path": clause.path, "role": clause.role} for clause in answer.clauses]}


# -------------------------------------------------------------------------------------------- rendering


def answer_change_title(item: dict[str, Any]) -> str:
    return (f"ANSWER CHANGED: {item['use']} · {item['provider']} · {item['title']}: "
            f"{item['old']['answer']} → {item['new']['answer']}")


def answer_change_summary(item: dict[str, Any]) -> str:
    new = item["new"]
    conditions = f" if {'; '.join(new['conditions'])}" if new["conditions"] else ""
    return (f"“{item['use_title']}” was {item['old']['answer']}, is now {new['answer']}{conditions} "
            f"(version {item['version']}, {item['observed_at']}). {new['reason']}")


def answer_change_text(item: dict[str, Any]) -> str:
    """Everything about one answer change, in plain text: the answers and the clause diffs behind them."""
    lines = [answer_change_title(item), f"Use: {item['use']}: {item['use_title']}",
             f"Seen: {item['observed_at']} (version {item['version']})", f"Source: {item['url']}"]
    if item.get("history_url"):
        lines.append(f"History: {item['history_url']}")
    for label, answer in (("Before", item["old"]), ("Now", item["new"])):
        lines += ["", f"{label}: {answer['answer']}", f"  {answer['reason']}"]
        lines += [f"  - {condition}" for condition in answer["conditions"]]
    for change in item["changes"]:
        lines += ["", f"Clause {change['path'] or change['key']} ({change['kind']}, {change['direction']}), "
                      "word diff ([-deleted-] {+inserted+}):", "  " + diff_as_text(change["diff"])]
    return "\n".join(lines)
