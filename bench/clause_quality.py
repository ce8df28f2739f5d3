"""Clause quality harness: an Open Terms Archive dataset folder in, the gold scores (or the events) printed out.

    .venv/bin/python bench/clause_quality.py [DATASET] [--gold GOLD.json] [--events] [--json OUT]
    .venv/bin/python bench/clause_quality.py --licences
    .venv/bin/python bench/clause_quality.py --leave-one-provider-out [--sets genai-eu,genai-eu-extra,licences]

Default mode: reads every document's versions in time order, normalises them with the extract stage, skips
fetch failures and unchanged texts, runs extract_clauses + compare_clauses against the last good
version, and scores the clauses at the newest version and the events with shared/tools/eval_gold.py.

--licences lays out ../shared/corpus/licenses as a dataset (bench/licence_dataset.py) and scores
tests/data/gold-licences.json through the CLI, as `eval_gold.py run` does.

--leave-one-provider-out scores each provider's documents with the rules that provider's own sentences
support taken out: a must_match sentence belongs to provider P when a passage (one to six consecutive sentences) of one of
P's corpus texts contains at least 80% of its tokens (eval_gold's `tokens`); a rule all of whose must_match sentences belong
to P is dropped, and P's sentences leave the other rules' must_match. The reduced rules (includes merged)
go to a temporary file named by CLAUSEWATCH_RULES; only P's documents are imported and scored. Providers are
the gold's services, grouped by company where one company runs several (PROVIDER_GROUPS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.licence_dataset import write_dataset  # noqa: E402
from monitor.changes import compare_clauses  # noqa: E402
from monitor.clauses import Clause, extract_clauses  # noqa: E402
from monitor.clauses.classify import RULES_ENV, read_rules_data, rules_path  # noqa: E402

SHARED = REPO.parent / "shared"
DEFAULT_DATASET = SHARED / "corpus" / "genai-eu"
DEFAULT_GOLD = SHARED / "corpus" / "gold" / "genai-eu-dev.json"
SCORER = SHARED / "tools" / "eval_gold.py"
EXTRA_DATASET = SHARED / "corpus" / "genai-eu-extra"
EXTRA_GOLD = SHARED / "corpus" / "gold" / "genai-eu-extra.json"
LICENCE_GOLD = REPO / "tests" / "data" / "gold-licences.json"
LINEAGE = SHARED / "corpus" / "licenses-lineage"
# With no registry: the shipped sources.yaml names most of the corpus's documents in its `history:` fields,
# and would record them under its own providers and titles, which the gold (named by folder) cannot match.
CLI = shlex.join([str(REPO / ".venv" / "bin" / "clausewatch"),
                  "--sources", str(REPO / "tests" / "data" / "no-sources.yaml")])
# Services of one company count as one provider: Vibe's terms are Mistral's, the Llama lineage is Meta's.
PROVIDER_GROUPS = {
    "Le Chat": "Mistral AI", "Vibe": "Mistral AI", "Mistral AI": "Mistral AI",
    "Llama API": "Meta", "Meta AI": "Meta", "Meta Llama": "Meta",
    "Grok": "xAI", "xAI": "xAI",
    "Qwen Chat": "Qwen", "Qwen": "Qwen",
    "Google Generative AI Services": "Google", "Gemma": "Google",
}
MUST_MATCH_CONTAINMENT = 0.8


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


@dataclass(frozen=True)
class GoldSet:
    """A gold file and the dataset folder it labels."""

    name: str
    gold: dict
    dataset: Path


def provider_of(service: str) -> str:
    return PROVIDER_GROUPS.get(service, service)


def run_cli_scorer(gold: dict, dataset: Path, rules: Path | None = None) -> tuple[list[dict], list[dict]]:
    """`eval_gold.py run` on `dataset` (a fresh SQLite database through the CLI); its clauses and changes."""
    env = dict(os.environ)
    if rules is not None:
        env[RULES_ENV] = str(rules)
    with tempfile.TemporaryDirectory(prefix="cw-quality-") as work:
        gold_file = Path(work) / "gold.json"
        gold_file.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
        done = subprocess.run([sys.executable, str(SCORER), "run", "--cli", CLI, "--gold", str(gold_file),
                               "--corpus", str(dataset), "--keep", str(Path(work) / "run")],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"eval_gold.py failed on {dataset}: {done.stderr.strip().splitlines()[-1:]}")
        clauses = json.loads((Path(work) / "run" / "clauses.json").read_text(encoding="utf-8"))
        changes = json.loads((Path(work) / "run" / "changes.json").read_text(encoding="utf-8"))
    return clauses, changes


def summary_line(report: dict) -> str:
    return (f"clause_recall={report['clause_recall']} clause_precision={report['clause_precision']} "
            f"event_recall={report['event_recall']} direction_accuracy={report['direction_accuracy']} "
            f"false_alerts={report['false_alerts']} silent_tightenings={report['silent_tightenings']}")


def print_report(report: dict) -> None:
    for name in ("missed_clauses", "false_clauses", "missed_events", "wrong_direction", "false_alert_examples",
                 "silent_tightening_examples"):
        if report.get(name):
            print(f"\n{name}:")
            for entry in report[name]:
                print("  " + json.dumps(entry, ensure_ascii=False))
    print("\nby category:", json.dumps(report["clause_recall_by_category"]))


def licence_gold_set(work: Path) -> GoldSet:
    """The licence gold with its dataset written under `work`."""
    write_dataset(work / "licences")
    return GoldSet("licences", json.loads(LICENCE_GOLD.read_text(encoding="utf-8")), work / "licences")


def score_licences() -> None:
    scorer = load_scorer()
    with tempfile.TemporaryDirectory(prefix="cw-licences-") as work:
        gold_set = licence_gold_set(Path(work))
        clauses, changes = run_cli_scorer(gold_set.gold, gold_set.dataset)
    report = scorer.score(gold_set.gold, clauses, changes)
    print_report(report)
    print(summary_line(report))
    # The scorer's tokens are [a-z0-9]: a Chinese sentence can never match. Scored without them as well.
    english = scorer.score(_without_chinese_gold(gold_set.gold), [c for c in clauses if not _CJK.search(c["text"])],
                           [e for e in changes if not _CJK.search((e.get("before") or "") + (e.get("after") or ""))])
    print("English sentences only: " + summary_line(english))


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _without_chinese_gold(gold: dict) -> dict:
    documents = [{**document,
                  "clauses_at_head": [c for c in document["clauses_at_head"] if not _CJK.search(c["text"])],
                  "events": [e for e in document["events"]
                             if not _CJK.search((e.get("before") or "") + (e.get("after") or ""))]}
                 for document in gold["documents"]]
    return {**gold, "documents": documents}


# ------------------------------------------------------------------ leave one provider out
_SENTENCE_END = re.compile(r"(?<=[.;:!?。；])\s+|\s+(?=\(?(?:[a-z]|[ivx]{1,4}|\d{1,2})\)\s)")
WINDOW_SENTENCES = 6


def passages(text: str) -> Iterable[str]:
    """Runs of one to six consecutive sentences (list items count as sentences) of each blank-line
    separated block, lines joined.

    A must_match sentence "occurs" in a passage, never across a whole page: long markdown paragraphs
    would otherwise hold the words of almost any sentence.
    """
    for block in text.replace("\r", "").split("\n\n"):
        sentences = [part for part in _SENTENCE_END.split(" ".join(block.split())) if part.strip()]
        for start in range(len(sentences)):
            for size in range(1, WINDOW_SENTENCES + 1):
                if start + size <= len(sentences):
                    yield " ".join(sentences[start:start + size])


def provider_paragraphs(roots: Iterable[Path], tokens) -> dict[str, list[frozenset[str]]]:  # type: ignore[no-untyped-def]
    """Provider -> the distinct token sets of the passages of every version of its documents under `roots`."""
    seen: dict[str, set[frozenset[str]]] = {}
    for root in roots:
        for file in root.glob("*/*/*"):
            if file.is_file():
                bucket = seen.setdefault(provider_of(file.parent.parent.name), set())
                bucket.update(frozenset(tokens(p)) for p in passages(file.read_text(encoding="utf-8", errors="replace")))
    return {provider: list(found) for provider, found in seen.items()}


def sentence_owners(sentence: str, by_provider: dict[str, list[frozenset[str]]], tokens) -> set[str]:  # type: ignore[no-untyped-def]
    """The providers one of whose paragraphs contains >= 80% of the sentence's tokens."""
    wanted = tokens(sentence)
    if not wanted:
        return set()
    need = MUST_MATCH_CONTAINMENT * len(wanted)
    return {provider for provider, blocks in by_provider.items()
            if any(len(wanted & block) >= need for block in blocks)}


def rules_without(data: dict, provider: str, owners: dict[str, set[str]]) -> tuple[dict, list[str]]:
    """The rules data with `provider`'s must_match sentences removed; rules left with none (that had some) dropped."""
    kept: list[dict] = []
    dropped: list[str] = []
    for rule in data.get("rules", []):
        examples = list(rule.get("must_match") or [])
        remaining = [s for s in examples if provider not in owners.get(s, set())]
        if examples and not remaining:
            dropped.append(rule["id"])
            continue
        kept.append({**rule, "must_match": remaining} if examples else rule)
    return {**data, "rules": kept}, dropped


def gold_documents_of(gold_sets: list[GoldSet], provider: str) -> tuple[dict, list[tuple[Path, dict]]]:
    """A gold holding only `provider`'s documents, and (dataset folder, gold document) of each."""
    documents = [(s.dataset / d["service"] / d["terms_type"], d)
                 for s in gold_sets for d in s.gold["documents"] if provider_of(d["service"]) == provider]
    return {"documents": [d for _, d in documents]}, documents


def copy_documents(documents: list[tuple[Path, dict]], out: Path) -> None:
    for folder, document in documents:
        if folder.is_dir():
            shutil.copytree(folder, out / document["service"] / document["terms_type"])


def leave_one_provider_out(set_names: list[str]) -> None:
    scorer = load_scorer()
    with tempfile.TemporaryDirectory(prefix="cw-lopo-") as work_dir:
        work = Path(work_dir)
        gold_sets = [s for s in all_gold_sets(work) if s.name in set_names]
        by_provider = provider_paragraphs([s.dataset for s in gold_sets] + [LINEAGE], scorer.tokens)
        data = read_rules_data(rules_path())
        sentences = {s for rule in data.get("rules", []) for s in rule.get("must_match") or []}
        owners = {s: sentence_owners(s, by_provider, scorer.tokens) for s in sentences}
        providers = sorted({provider_of(d["service"]) for s in gold_sets for d in s.gold["documents"]})
        plain_clauses: list[dict] = []
        plain_changes: list[dict] = []
        for gold_set in gold_sets:
            clauses, changes = run_cli_scorer(gold_set.gold, gold_set.dataset)
            plain_clauses += clauses
            plain_changes += changes
        pooled_gold = {"documents": [d for s in gold_sets for d in s.gold["documents"]]}
        plain = scorer.score(pooled_gold, plain_clauses, plain_changes)
        rows, all_clauses, all_changes, examples = [], [], [], []
        for provider in providers:
            reduced, dropped = rules_without(data, provider, owners)
            rules_file = work / f"rules-{len(rows)}.yaml"
            rules_file.write_text(yaml.safe_dump(reduced, allow_unicode=True, sort_keys=False), encoding="utf-8")
            gold, documents = gold_documents_of(gold_sets, provider)
            dataset = work / f"dataset-{len(rows)}"
            copy_documents(documents, dataset)
            clauses, changes = run_cli_scorer(gold, dataset, rules_file)
            report = scorer.score(gold, clauses, changes)
            rows.append((provider, dropped, report))
            all_clauses += clauses
            all_changes += changes
            examples.append((provider, report))
            print(f"  {provider}: {len(dropped)} rules dropped, {summary_line(report)}", file=sys.stderr)
        pooled = scorer.score(pooled_gold, all_clauses, all_changes)
    print_lopo_table(rows, pooled, plain)
    print_lopo_examples(examples)


def all_gold_sets(work: Path) -> list[GoldSet]:
    return [
        GoldSet("genai-eu", json.loads(DEFAULT_GOLD.read_text(encoding="utf-8")), DEFAULT_DATASET),
        GoldSet("genai-eu-extra", json.loads(EXTRA_GOLD.read_text(encoding="utf-8")), EXTRA_DATASET),
        licence_gold_set(work),
    ]


def print_lopo_table(rows: list[tuple[str, list[str], dict]], pooled: dict, plain: dict) -> None:
    print(f"\n{'provider':<32} {'dropped':>7} {'recall':>7} {'precis':>7} {'events':>7} {'direct':>7} {'false':>6} {'silent':>6}")
    def line(name: str, dropped: str, r: dict) -> str:
        return (f"{name:<32} {dropped:>7} {fmt(r['clause_recall']):>7} {fmt(r['clause_precision']):>7} "
                f"{fmt(r['event_recall']):>7} {fmt(r['direction_accuracy']):>7} {r['false_alerts']:>6} "
                f"{r['silent_tightenings']:>6}")
    for provider, dropped, report in rows:
        print(line(provider, str(len(dropped)), report))
    print(line("pooled, leave-one-provider-out", "", pooled))
    print(line("pooled, plain (all rules)", "", plain))
    for provider, dropped, _ in rows:
        if dropped:
            print(f"  {provider} drops: {', '.join(dropped)}")
    print("pooled leave-one-provider-out: " + summary_line(pooled))
    print("pooled plain: " + summary_line(plain))


def print_lopo_examples(examples: list[tuple[str, dict]]) -> None:
    for kind in ("missed_clauses", "false_clauses", "wrong_direction", "silent_tightening_examples", "false_alert_examples"):
        entries = [(p, e) for p, r in examples for e in r.get(kind, [])]
        if entries:
            print(f"\n{kind} (leave-one-provider-out):")
            for provider, entry in entries:
                print(f"  [{provider}] " + json.dumps(entry, ensure_ascii=False))


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


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
    parser.add_argument("--licences", action="store_true",
                        help="score tests/data/gold-licences.json on ../shared/corpus/licenses through the CLI")
    parser.add_argument("--leave-one-provider-out", action="store_true",
                        help="score each provider without the rules only its own sentences support")
    parser.add_argument("--sets", default="genai-eu,genai-eu-extra,licences",
                        help="gold sets for --leave-one-provider-out (comma-separated)")
    args = parser.parse_args()
    if args.licences:
        score_licences()
        return
    if args.leave_one_provider_out:
        leave_one_provider_out([name.strip() for name in args.sets.split(",") if name.strip()])
        return
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
