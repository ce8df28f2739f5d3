"""Raw snapshots of the corpus in; how well automatic location finds the terms, against the hand-written selectors.

For every raw snapshot of ../shared/corpus/genai-eu-snapshots that its source's selectors extract, the text is
extracted again with no `select`/`remove` (the automatic finder, monitor/extract/locate.py) and, if installed,
with trafilatura and readability-lxml. Printed per document and overall:
- clause recall: the share of the clauses the selectors give (monitor/clauses) that the automatic text gives
  too, same text (`exact`), or whose words appear in the automatic text (`words`, the measure that is fair to
  the libraries, whose text layout differs);
- stability: of the consecutive snapshots whose selector text is identical, the share whose automatic text is
  identical too;
- speed of the automatic path against the selectors (MB/s of raw HTML per core, CPU time, parsing included).

Run: .venv/bin/python -m bench.locate_quality [--libraries] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench.extract_speed import REPO, load_pages
from monitor.clauses import extract_clauses
from monitor.clauses.align import content_of
from monitor.errors import ExtractionError
from monitor.extract import extract_document
from monitor.sources import load_sources

Extractor = Callable[[bytes], str]


def automatic(body: bytes) -> str:
    return extract_document(body, format="html", content_type="text/html").text


def with_trafilatura(body: bytes) -> str:
    import trafilatura

    return trafilatura.extract(body.decode("utf-8", "replace"), favor_recall=True, include_tables=True) or ""


def with_readability(body: bytes) -> str:
    from readability import Document as ReadableDocument

    from monitor.extract.document import extract_html

    return extract_html(ReadableDocument(body.decode("utf-8", "replace")).summary()).text


def selector_pages() -> list[tuple[str, str, bytes, str]]:
    """(source id, kind, raw bytes, selector text) of every snapshot the selectors extract."""
    kinds = {source.id: source.kind for source in load_sources(REPO / "sources.yaml")}
    pages = []
    for source_id, body, select, remove in load_pages():
        try:
            text = extract_document(body, format="html", content_type="text/html", select=select,
                                    remove=remove).text
        except ExtractionError:
            continue  # error pages: no clauses to find
        pages.append((source_id, kinds[source_id], body, text))
    return pages


def measure(pages: list[tuple[str, str, bytes, str]], extract: Extractor) -> dict[str, dict[str, float]]:
    """Per source: clause counts found (exact, words), stable pairs, and seconds spent extracting."""
    found: dict[str, dict[str, float]] = {}
    previous: dict[str, tuple[str, str]] = {}
    for source_id, kind, body, selector_text in pages:
        row = found.setdefault(source_id, dict.fromkeys(("clauses", "exact", "words", "pairs", "stable",
                                                         "seconds", "bytes"), 0.0))
        started = time.perf_counter()
        try:
            text = extract(body)
        except ExtractionError:
            text = ""
        row["seconds"] += time.perf_counter() - started
        row["bytes"] += len(body)
        wanted = {content_of(clause.text) for clause in extract_clauses(selector_text, kind=kind)}
        got = {content_of(clause.text) for clause in extract_clauses(text, kind=kind)} if text else set()
        words = " ".join(content_of(line) for line in text.split("\n"))
        row["clauses"] += len(wanted)
        row["exact"] += len(wanted & got)
        row["words"] += sum(1 for clause in wanted if clause in words)
        if source_id in previous and previous[source_id][0] == selector_text:
            row["pairs"] += 1
            row["stable"] += previous[source_id][1] == text
        previous[source_id] = (selector_text, text)
    return found


def report(name: str, found: dict[str, dict[str, float]]) -> None:
    total = {key: sum(row[key] for row in found.values()) for key in next(iter(found.values()))}
    print(f"\n{name}: clause recall exact {total['exact'] / total['clauses']:.3f}, "
          f"words {total['words'] / total['clauses']:.3f} (of {total['clauses']:.0f} clauses); "
          f"stable {total['stable']:.0f}/{total['pairs']:.0f} unchanged pairs; "
          f"{total['bytes'] / 1e6 / total['seconds']:.1f} MB/s")
    for source_id, row in found.items():
        print(f"  {source_id:40s} exact {row['exact'] / max(row['clauses'], 1):6.3f}  "
              f"words {row['words'] / max(row['clauses'], 1):6.3f}  stable {row['stable']:.0f}/{row['pairs']:.0f}")


def speed(pages: list[tuple[str, str, bytes, str]], repeat: int) -> None:
    """MB/s on one core of the automatic path and of the selectors, best of `repeat` rounds over every page."""
    sources = {source.id: source for source in load_sources(REPO / "sources.yaml")}
    total = sum(len(body) for _, _, body, _ in pages) / 1e6
    for name, select in (("automatic", False), ("selectors", True)):
        rounds = []
        for _ in range(repeat):
            started = time.process_time()
            for source_id, _, body, _ in pages:
                source = sources[source_id]
                extract_document(body, format="html", content_type="text/html",
                                 select=source.select if select else (), remove=source.remove if select else ())
            rounds.append(time.process_time() - started)
        print(f"speed {name}: {total:.1f} MB in {min(rounds):.2f} s CPU = {total / min(rounds):.1f} MB/s per core "
              f"(best of {repeat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", action="store_true", help="also measure trafilatura and readability-lxml")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the speed measure")
    arguments = parser.parse_args()
    pages = selector_pages()
    print(f"{len(pages)} snapshots extracted by their selectors")
    report("automatic (monitor/extract/locate.py)", measure(pages, automatic))
    speed(pages, arguments.repeat)
    if arguments.libraries:
        report("trafilatura", measure(pages, with_trafilatura))
        report("readability-lxml", measure(pages, with_readability))


if __name__ == "__main__":
    main()
