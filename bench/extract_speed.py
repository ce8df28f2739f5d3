"""Raw snapshots of the corpus in, extraction speed out (MB/s on one core, time per document).

Run: .venv/bin/python bench/extract_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import yaml

from monitor.errors import ExtractionError
from monitor.extract import extract_document
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO.parent / "shared" / "corpus" / "genai-eu-snapshots"
MAPPING = REPO / "tests" / "data" / "extract" / "snapshots.yaml"


def load_pages() -> list[tuple[str, bytes, tuple[str, ...], tuple[str, ...]]]:
    """(source id, raw bytes, select, remove) for every raw snapshot of the corpus."""
    sources = {source.id: source for source in load_sources(REPO / "sources.yaml")}
    manifest = {(entry["service"], entry["document"]): entry
                for entry in json.loads((SNAPSHOTS / "manifest.json").read_text())}
    pages = []
    for row in yaml.safe_load(MAPPING.read_text()):
        entry, source = manifest[(row["service"], row["document"])], sources[row["source"]]
        for name in entry["snapshots"]:
            body = (SNAPSHOTS / row["service"] / row["document"] / name).read_bytes()
            pages.append((source.id, body, source.select, source.remove))
    return pages


def run(pages: list, repeat: int) -> None:
    total_bytes = sum(len(body) for _, body, _, _ in pages)
    per_source: dict[str, list[float]] = {}
    rounds = []
    for _ in range(repeat):
        started = time.perf_counter()
        for source_id, body, select, remove in pages:
            one = time.perf_counter()
            try:
                extract_document(body, format="html", content_type="text/html", select=select, remove=remove)
            except ExtractionError:
                pass  # error pages and old layouts cost time too; they stay in the measure
            per_source.setdefault(source_id, []).append(time.perf_counter() - one)
        rounds.append(time.perf_counter() - started)
    best = min(rounds)
    print(f"{len(pages)} pages, {total_bytes / 1e6:.1f} MB, best of {repeat}: {best:.2f} s "
          f"= {total_bytes / 1e6 / best:.1f} MB/s (median round {statistics.median(rounds):.2f} s)")
    for source_id, times in per_source.items():
        print(f"  {source_id:40s} {statistics.median(times) * 1000:7.1f} ms per page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    run(load_pages(), parser.parse_args().repeat)


if __name__ == "__main__":
    main()
