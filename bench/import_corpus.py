"""Import speed: an Open Terms Archive dataset folder in, versions per second and peak memory out.

    .venv/bin/python bench/import_corpus.py [PATH] [--db URL] [--repeat 3]

PATH defaults to ../shared/corpus/genai-eu (477 versions, 19 MB). Each run imports into a fresh
database (a temporary SQLite file unless --db names an empty PostgreSQL database), through the
same code path as `clausewatch import`, with classification caches cleared between runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from monitor.importer import find_versions, import_history
from monitor.pipeline import Recorder
from monitor.store import connect, init_database

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "genai-eu"


def import_once(path: Path, db_url: str | None) -> tuple[float, Counter]:
    with tempfile.TemporaryDirectory() as folder:
        engine = connect(db_url or f"sqlite:///{folder}/bench.db")
        init_database(engine)
        _clear_caches()
        versions = find_versions(path)
        started = time.perf_counter()
        outcomes = import_history(Recorder(engine), path, versions=versions).outcomes
        elapsed = time.perf_counter() - started
        engine.dispose()
    return elapsed, Counter(outcome.outcome for outcome in outcomes)


def _clear_caches() -> None:
    import functools
    import gc

    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and obj.__module__.startswith("monitor"):
            obj.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--db", help="an EMPTY database URL (default: a temporary SQLite file per run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = sum(file.stat().st_size for file in args.path.rglob("*") if file.is_file())
    times = []
    for run in range(args.repeat):
        elapsed, outcomes = import_once(args.path, args.db)
        times.append(elapsed)
        total = sum(outcomes.values())
        print(f"run {run + 1}: {total} versions in {elapsed:.2f} s ({total / elapsed:.0f} versions/s, "
              f"{size / elapsed / 1e6:.1f} MB/s); {dict(outcomes)}")
        if args.db:
            break  # the database is no longer empty
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best, median = min(times), statistics.median(times)
    print(f"import of {args.path.name}: {total} versions, {size / 1e6:.1f} MB; best {best:.2f} s "
          f"({total / best:.0f} versions/s), median {median:.2f} s; peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
