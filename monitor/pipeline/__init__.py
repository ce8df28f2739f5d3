"""One source, one capture: a FetchResult in; attempt, snapshot, version, clauses and change events stored; alerts out.

The CLI (`run`, `ingest`, `import`), the scheduler and the web app call this package; none holds pipeline logic.
Its modules, each importing only those above it in this list:

- `capture`: what a capture is (`Capture`) and what recording it gave (`CaptureOutcome`, the outcomes);
- `checks`: checks of a capture's text that read no database; `check_capture` (what would be extracted);
- `decide`: what a capture is (unchanged, a new version and its events, a failure ...), from plain values;
- `rows`: the store's queries and row writes the recorder builds on;
- `recorder`: `Recorder`, which reads a source's state, decides and writes, one transaction per batch;
- `analysis_batches`: new bodies sent to the analysis processes, which analyse and store them;
- `cycle`: one crawl cycle (`run_cycle`: fetch, hand over, record, alert) and its back-pressure (`Backlog`);
- `ingest`: captures no cycle fetched (a local file, a stored snapshot extracted again).
"""

from monitor.pipeline.analysis_batches import (ANALYSIS_BATCH, BATCH_WAIT_SECONDS, AnalysisStoreSpec, _AnalysisBatches,
                                               _record_in_analysis_process)
from monitor.pipeline.capture import FAILED, NEW_VERSION, UNCHANGED, Capture, CaptureOutcome, log_outcome
from monitor.pipeline.checks import SourceCheck, check_capture, check_extracted, check_language
from monitor.pipeline.cycle import (CAPTURES_PER_TRANSACTION, MAX_BACKLOG_BYTES, Backlog, CycleSummary,
                                    ProgressCallback, _record_together, check_captures, deliver_notifications,
                                    fetch_once, run_cycle)
from monitor.pipeline.ingest import ingest_file, reextract_source
from monitor.pipeline.recorder import LONG_RUNNING_CACHED_SOURCES, REVERT_WINDOW, STORE_TRIES, Recorder
from monitor.pipeline.rows import clause_from_row, latest_text_hashes, upsert_source, upsert_sources

__all__ = [
    "ANALYSIS_BATCH", "BATCH_WAIT_SECONDS", "CAPTURES_PER_TRANSACTION", "FAILED", "MAX_BACKLOG_BYTES", "NEW_VERSION",
    "LONG_RUNNING_CACHED_SOURCES", "REVERT_WINDOW", "STORE_TRIES", "UNCHANGED", "AnalysisStoreSpec", "Backlog", "Capture", "CaptureOutcome",
    "CycleSummary", "ProgressCallback", "Recorder", "SourceCheck", "_AnalysisBatches", "_record_in_analysis_process",
    "_record_together", "check_capture", "check_captures", "check_extracted", "check_language", "clause_from_row",
    "deliver_notifications", "fetch_once", "ingest_file", "latest_text_hashes", "log_outcome", "reextract_source",
    "run_cycle", "upsert_source", "upsert_sources",
]
