"""Every corpus document analysed once in one process (as an analysis worker would, a page after another) in,
the process's RSS and its largest text memos out, every 100 documents.

Run: .venv/bin/python bench/analysis_memory.py

The documents are the raw snapshots of ../shared/corpus/genai-eu-snapshots, then the version texts of
genai-eu, genai-eu-extra, licenses and licenses-lineage: 776 documents, many of them versions of one
another, so the memos' hits are those of a worker that sees a document's history.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from monitor.analysis import _load_analysis_models, analyse_body
from monitor.sources import Source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TEXT_SETS = ("genai-eu", "genai-eu-extra", "licenses", "licenses-lineage")
CONTENT_TYPES = {".md": "text/markdown", ".txt": "text/plain"}


def corpus_documents() -> list[tuple[bytes, str]]:
    """(body, content type) of every document, snapshots first."""
    documents = [(path.read_bytes(), "text/html") for path in sorted((CORPUS / "genai-eu-snapshots").rglob("*.html"))]
    for name in TEXT_SETS:
        documents += [(path.read_bytes(), CONTENT_TYPES[path.suffix]) for path in sorted((CORPUS / name).rglob("*"))
                      if path.suffix in CONTENT_TYPES]
    if not documents:
        raise SystemExit(f"no corpus at {CORPUS}")
    return documents


def rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def text_memos() -> dict[str, object]:
    """Every memoised function of the package, by its module and name."""
    return {f"{module.__name__}.{name}": value
            for module in list(sys.modules.values()) if getattr(module, "__name__", "").startswith("monitor")
            for name, value in vars(module).items()
            if hasattr(value, "cache_info") and getattr(value, "__module__", None) == module.__name__}


def main() -> None:
    documents = corpus_documents()
    source = Source(id="bench", provider="Bench", title="Terms", url="https://example.com/terms")
    _load_analysis_models()
    start_rss, started = rss_mb(), time.process_time()
    print(f"{len(documents)} documents, RSS {start_rss} MB before the first")
    for count, (body, content_type) in enumerate(documents, 1):
        analyse_body(body, content_type, source)
        if count % 100 == 0 or count == len(documents):
            largest = sorted(((memo.cache_info().currsize, name.removeprefix("monitor."))  # type: ignore[attr-defined]
                              for name, memo in text_memos().items()), reverse=True)[:3]
            print(f"{count:4d} documents  CPU {time.process_time() - started:5.1f} s  RSS {rss_mb()} MB "
                  f"(+{rss_mb() - start_rss})  largest memos: "
                  + ", ".join(f"{name} {size:,}" for size, name in largest))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
