"""Clause quality harness: an Open Terms Archive dataset folder in, the gold scores (or the events) printed out.

    .venv/bin/python bench/clause_quality.py [DATASET] [--gold GOLD.json] [--events] [--json OUT]

Reads every document's versions in time order, normalises them with the extract stage, skips
fetch failures and unchanged texts, runs extract_clauses + compare_clauses against the last good
version, and scores the clauses at the newest version and the events with shared/tools/eval_gold.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.changes import compare_clauses  # noqa: E402
from monitor.clauses import Clause, extract_clauses  # noqa: E402

SHARED = REPO.parent / "shared"
DEFAULT_DATASET = SHARED / "corpus" / "genai-eu"
DEFAULT_GOLD = SHARED / "corpus" / "gold" / "genai-eu-dev.json"
SCORER = SHARED / "tools" / "eval_gold.py"


def load_scorer():
    """eval_gold.py as a module (it is a script outside the package)."""
    spec = importlib.util.spec_from_file_location("eval_gold", SCORER)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def normalise_version(raw: bytes, previous_text: str | None) -> str | None:
    """The normalised text of a capture, or None when it is a fetch failure."""
    try:
        from monitor.errors import ExtractionError
        from monitor.extract import check_document, extract_document
    except ImportError:  # extract stage not there yet: a local stand-in
        text = raw.decode("utf-8", "replace")
        bad = ("This page isn’t available", "This page isn't available", "Redirecting to")
        if any(b in text[:2000] for b in bad) or (previous_text and len(text) < 0.5 * len(previous_text)):
            return None
        return text
    try:
        document = extract_document(raw, format="markdown", content_type=None)
        check_document(document, previous_text=previous_text)
    except ExtractionError:
        return None
    return document.text


def iso_time(stamp: str) -> str:
    """An Open Terms Archive file stamp (YYYY-MM-DDTHH-MM-SSZ) as ISO 8601 UTC."""
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=dt.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def guess_kind(title: str) -> str:
    """The source kind the importer gives a document of this title (terms, policy or license)."""
    lowered = title.lower()
    if "licen" in lowered:
        return "license"
    return "policy" if "policy" in lowered else "terms"


def run_document(folder: Path, provider: str, title: str, kind: str | None = None) -> tuple[list[dict], list[dict], dict]:
    """Clause dicts at the newest good version and change dicts for every event of one document."""
    previous_clauses: list[Clause] | None = None
    previous_text: str | None = None
    changes: list[dict] = []
    stats = {"versions": 0, "failures": 0, "unchanged": 0}
    observed = ""
    for path in sorted(folder.glob("*.md")):
        stats["versions"] += 1
        text = normalise_version(path.read_bytes(), previous_text)
        if text is None:
            stats["failures"] += 1
            continue
        if text == previous_text:
            stats["unchanged"] += 1
            continue
        clauses = extract_clauses(text, kind=kind)
        observed = iso_time(path.stem)
        if previous_clauses is not None:
            clauses, events = compare_clauses(previous_clauses, clauses)
            for event in events:
                changes.append({
                    "provider": provider, "title": title, "observed_at": observed, "key": event.key,
                    "path": event.path, "categories": list(event.categories), "direction": event.direction,
                    "kind": event.kind, "reason": event.reason, "before": event.before, "after": event.after,
                })
        previous_clauses, previous_text = clauses, text
    head = [
        {"provider": provider, "title": title, "text": c.text, "categories": list(c.categories),
         "rules": list(c.rules), "path": c.path, "key": c.key, "observed_at": observed}
        for c in previous_clauses or []
    ]
    return head, changes, stats


def run_dataset(dataset: Path, with_kind: bool = True) -> tuple[list[dict], list[dict]]:
    clauses: list[dict] = []
    changes: list[dict] = []
    for service in sorted(p for p in dataset.iterdir() if p.is_dir()):
        for terms in sorted(p for p in service.iterdir() if p.is_dir()):
            kind = guess_kind(terms.name) if with_kind else None
            head, events, stats = run_document(terms, service.name, terms.name, kind)
            clauses += head
            changes += events
            print(f"  {service.name}/{terms.name}: {stats['versions']} versions, {stats['failures']} failures, "
                  f"{stats['unchanged']} unchanged, {len(events)} events", file=sys.stderr)
    return clauses, changes


def print_events(changes: list[dict], alerting_only: bool) -> None:
    for event in changes:
        if alerting_only and event["direction"] == "reworded":
            continue
        print(f"{event['observed_at']} {event['provider']}/{event['title']} [{','.join(event['categories'])}] "
              f"{event['kind']} {event['direction']}: {event['reason'][:200]}")
        if event["before"]:
            print(f"    - {event['before'][:220]}")
        if event["after"]:
            print(f"    + {event['after'][:220]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--gold", default=None, help="gold file (default: genai-eu-dev.json for genai-eu)")
    parser.add_argument("--events", action="store_true", help="print every alerting event")
    parser.add_argument("--all-events", action="store_true", help="print every event, reworded too")
    parser.add_argument("--json", help="write clauses and changes to this file")
    parser.add_argument("--no-kind", action="store_true",
                        help="classify without the source kind (as a pipeline that does not pass it)")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    gold_path = Path(args.gold) if args.gold else (DEFAULT_GOLD if dataset.resolve() == DEFAULT_DATASET.resolve() else None)
    started = time.perf_counter()
    clauses, changes = run_dataset(dataset, with_kind=not args.no_kind)
    elapsed = time.perf_counter() - started
    if args.json:
        Path(args.json).write_text(json.dumps({"clauses": clauses, "changes": changes}, indent=1, ensure_ascii=False))
    if args.events or args.all_events or gold_path is None:
        print_events(changes, alerting_only=not args.all_events)
    if gold_path is not None:
        report = load_scorer().score(json.loads(gold_path.read_text()), clauses, changes)
        for name in ("missed_clauses", "false_clauses", "missed_events", "wrong_direction", "false_alert_examples"):
            if report[name]:
                print(f"\n{name}:")
                for entry in report[name]:
                    print("  " + json.dumps(entry, ensure_ascii=False))
        print("\nby category:", json.dumps(report["clause_recall_by_category"]))
        print(f"clause_recall={report['clause_recall']} clause_precision={report['clause_precision']} "
              f"event_recall={report['event_recall']} direction_accuracy={report['direction_accuracy']} "
              f"false_alerts={report['false_alerts']}")
    watched = sum(1 for c in clauses if c["categories"])
    print(f"{len(clauses)} clauses at head ({watched} watched), {len(changes)} events, {elapsed:.1f} s")


if __name__ == "__main__":
    main()
