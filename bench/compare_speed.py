"""Comparing versions: every pair of consecutive distinct versions of the corpus documents in, the CPU
seconds compare_clauses takes over all of them out, each round and the fastest (the analyses are made
first and not timed).

    .venv/bin/python bench/compare_speed.py [--corpus ../shared/corpus/genai-eu] [--rounds 3]

This is what the recorder does for each new version of a source (monitor.pipeline.decide.compared), and
most of what an import does besides analysing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from monitor.analysis import analyse_body
from monitor.changes.compare import compare_clauses
from monitor.clauses import Clause
from monitor.sources import Source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "genai-eu"
SOURCE = Source(id="bench", provider="Bench", title="Bench", url="https://example.com/terms", format="markdown")


def version_pairs(corpus: Path) -> list[tuple[list[Clause], list[Clause]]]:
    """(previous clauses, current clauses) of each document's consecutive distinct versions."""
    pairs = []
    for folder in sorted({path.parent for path in corpus.rglob("*.md")}):
        previous, seen = None, set()
        for path in sorted(folder.glob("*.md")):
            body = path.read_bytes()
            if body in seen:
                continue
            seen.add(body)
            clauses = analyse_body(body, "text/markdown", SOURCE).clauses
            if not clauses:
                continue
            if previous is not None:
                pairs.append((list(previous), list(clauses)))
            previous = clauses
    if not pairs:
        raise SystemExit(f"no documents with two versions under {corpus}")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pairs = version_pairs(args.corpus)
    rounds = []
    for round_number in range(1, args.rounds + 1):
        began = time.process_time()
        for previous, current in pairs:
            compare_clauses(previous, current)
        rounds.append(time.process_time() - began)
        print(f"round {round_number}: {len(pairs)} pairs compared in {rounds[-1]:.3f} s of CPU")
    print(f"fastest round: {min(rounds):.3f} s ({min(rounds) / len(pairs) * 1000:.2f} ms a pair)")


if __name__ == "__main__":
    main()
