"""Analysis of a new body: its bytes and the source's extraction settings in, its compressed form, its
`Document` and classified clauses (or the extraction failure) out.

Compression, extraction and clause analysis are most of the CPU a first capture costs, so a crawl cycle
runs them in worker processes (`AnalysisPool`), which also store those captures (`monitor.pipeline`),
while the main process fetches. A missing or failed analysis only means the recorder does the work itself.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from monitor.clauses import Clause, extract_clauses
from monitor.clauses.classify import load_rules
from monitor.clauses.language import detect_language, load_language_model
from monitor.errors import ExtractionError
from monitor.extract import Document, check_document, extract_document, page_fingerprint
from monitor.extract.fingerprint import fingerprint_key
from monitor.settings import load_settings
from monitor.sources import Source

# A cycle of fewer sources uses workers only if they are already running (started by an earlier cycle).
MIN_SOURCES_TO_START_WORKERS = 8
# How often a worker checks that the process it works for is still alive.
OWNER_CHECK_SECONDS = 1.0
# The attempt outcome of a body whose analysis (or storing) failed with an error no check foresaw: a hostile
# body that trips a library limit (a PDF bomb), or a bug. The capture fails; the cycle goes on.
ANALYSIS_ERROR = "analysis_error"
# A failure's reason is stored and shown in one line: at most this many characters of it.
MAX_REASON_CHARACTERS = 300

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Analysis:
    """What extraction made of one body: a document and its clauses, or why it is not a valid capture.

    `clauses` are the document's classified clauses, None when the document fails the checks that need no
    history (the recorder then fails the capture without classifying anything) or is the latest version's
    text; `compressed_body` is the body as a snapshot stores it. `known_text_sha256`: the body was not
    extracted, its fingerprint says its text is the latest version's, of this hash (`document` is None).
    """

    document: Document | None
    clauses: tuple[Clause, ...] | None = None
    error_kind: str | None = None
    error_reason: str | None = None
    compressed_body: bytes | None = None
    language: str | None = None  # of the document's text, when its clauses were classified
    known_text_sha256: str | None = None

    def document_or_raise(self) -> Document:
        if self.document is None:
            raise ExtractionError(self.error_kind or "invalid", self.error_reason or "extraction failed")
        return self.document


def analyse_body(body: bytes, content_type: str | None, source: Source, latest_text_sha256: str | None = None,
                 latest_fingerprint: str | None = None) -> Analysis:
    """Compress `body`, extract it with the source's settings and, if it is a plausible capture, classify
    its clauses. Never raises for what the body holds: any failure is the Analysis's error.

    A body whose text is the latest version's (`latest_text_sha256`: a page whose nonce or build id
    changed) is neither classified nor compressed: it makes no version, and classifying is seven times
    the work of extracting. If its fingerprint is the one the source row keeps for that text
    (`latest_fingerprint`, a `fingerprint_key`), it is not even extracted. Should the latest version have
    moved on meanwhile, the recorder does the rest."""
    if latest_text_sha256 is not None and latest_fingerprint is not None and _fingerprint_matches(
            body, content_type, source, latest_text_sha256, latest_fingerprint):
        return Analysis(None, known_text_sha256=latest_text_sha256)
    try:
        with contained():
            document = extract_document(body, format=source.format, content_type=content_type,
                                        select=source.select, remove=source.remove)
    except ExtractionError as error:
        return Analysis(None, error_kind=error.kind, error_reason=error.reason, compressed_body=compress_body(body))
    if latest_text_sha256 is not None and text_sha256(document.text) == latest_text_sha256:
        return Analysis(document)
    compressed = compress_body(body)
    try:
        check_document(document, expect=source.expect)
    except ExtractionError:
        return Analysis(document, compressed_body=compressed)
    try:
        with contained():
            clauses = tuple(extract_clauses(document.text, kind=source.kind))
    except ExtractionError as error:
        return Analysis(None, error_kind=error.kind, error_reason=error.reason, compressed_body=compressed)
    return Analysis(document, clauses, compressed_body=compressed, language=detect_language(document.text))


def _fingerprint_matches(body: bytes, content_type: str | None, source: Source, text_sha256: str, key: str) -> bool:
    """Whether the body's fingerprint and `text_sha256` make `key` (a page of this fingerprint has that text)."""
    try:
        with contained():
            fingerprint = page_fingerprint(body, format=source.format, content_type=content_type,
                                           select=source.select, remove=source.remove)
    except ExtractionError:
        return False  # the extraction will say what is wrong with it
    return fingerprint is not None and fingerprint_key(fingerprint, text_sha256, text_checks(source)) == key


def text_checks(source: Source) -> tuple[str | None, str | None]:
    """What the source asks of a text beyond what the extraction makes of it."""
    return source.expect, source.language


@contextlib.contextmanager
def contained() -> Iterator[None]:
    """Any error but an ExtractionError raised inside becomes an ExtractionError of kind `analysis_error`
    naming it, so that a body no check foresaw fails its own capture and nothing else."""
    try:
        yield
    except ExtractionError:
        raise
    except Exception as error:  # noqa: BLE001 - a library limit (pypdf's LimitReachedError), a deep tree, a bug
        raise ExtractionError(ANALYSIS_ERROR, failure_reason("analysis failed", error)) from error


def failure_reason(what: str, error: BaseException) -> str:
    """One storable line: `what`, the error's type and message (no NUL, no line breaks, not too long)."""
    message = " ".join(str(error).replace("\x00", "").split())
    reason = f"{what}: {type(error).__name__}: {message}" if message else f"{what}: {type(error).__name__}"
    return reason if len(reason) <= MAX_REASON_CHARACTERS else reason[: MAX_REASON_CHARACTERS - 1] + "…"


def text_sha256(text: str) -> str:
    """The hash a version keeps of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compress_body(body: bytes) -> bytes:
    """A body as a snapshot stores it."""
    # Level 1: three times as fast as the default level on terms pages, for bodies about 18% larger.
    return zlib.compress(body, 1)


def analysis_processes(environ: Mapping[str, str] | None = None) -> int:
    """How many worker processes analyse new bodies: $CLAUSEWATCH_ANALYSIS_PROCESSES, else one per core.

    0 analyses in the recording thread of the main process (no workers).
    """
    return load_settings(environ).analysis_workers


class AnalysisPool:
    """Worker processes for analysing (and storing) new bodies, started once per process and kept for later
    cycles.

    A pool made while its process has one thread (`run --once` makes it first thing, on Linux) forks its
    workers from that process at once: they inherit its imports, compiled rules and language model, and no
    thread's locks. Otherwise workers fork from a fork server that imports the extraction, clause and store
    code once, so that none inherits the threads (or their locks) of the process that asked for it; that
    costs a third process and its imports.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.start_method = "fork" if _only_thread_on_linux() else "forkserver"
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            # The pipeline's worker tasks store captures too: the fork server imports the store with the rest.
            context.set_forkserver_preload(["monitor.pipeline"])
        self._executor = ProcessPoolExecutor(max_workers=processes, mp_context=context,
                                             initializer=_start_worker, initargs=(os.getpid(),))
        if self.start_method == "fork":
            _load_analysis_models()  # once here, for every worker
            # A fork pool starts all its workers at the first submit, before its manager thread: now, while
            # this is still the only thread.
            self._executor.submit(_started)
            return
        # The first submit waits for the fork server to start and import the code (about half a second):
        # a thread pays that wait now, while the caller goes on (syncing sources, starting fetches).
        threading.Thread(target=self._start_workers, name="analysis-start", daemon=True).start()

    def _start_workers(self) -> None:
        try:
            for future in [self._executor.submit(_started) for _ in range(self.processes)]:
                future.result()
        except Exception:  # noqa: BLE001 - a pool that cannot start fails the captures' submits, reported there
            pass

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T] | None:
        """`function(*args)` run by a worker; None when a dead worker has broken the pool."""
        try:
            return self._executor.submit(function, *args)
        except BrokenProcessPool:
            discard_pool(self)
            return None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _started() -> None:
    """The task that makes a worker start (see `AnalysisPool._start_workers`)."""


def _only_thread_on_linux() -> bool:
    """Whether forking here is safe: on Linux (macOS's system libraries are not fork-safe), from the one thread
    of the process, which no other thread holds a lock against."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _load_analysis_models() -> None:
    """Compile the rules and load the language model, which every analysis needs."""
    load_rules()
    load_language_model()


def _start_worker(owner_pid: int) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the cycle; a worker must not print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker has its parent's handler
    threading.Thread(target=_exit_with_owner, args=(owner_pid,), daemon=True).start()
    load_rules()  # forked from this pool's process, a worker has them and the language model already


def _exit_with_owner(owner_pid: int) -> None:
    """End this worker once the process that owns the pool is gone (even SIGKILLed, which no pipe reports
    here: a worker's parent is the fork server, and every worker holds its call queue open itself)."""
    while True:
        time.sleep(OWNER_CHECK_SECONDS)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(0)


_pool: AnalysisPool | None = None
_pool_guard = threading.Lock()


def shared_pool(processes: int, start: bool = True) -> AnalysisPool | None:
    """The process's pool of `processes` workers (None for 0), made on first use and reused after.

    With `start` false, only a pool that is already running is returned: starting one costs more than
    analysing a page or two here.
    """
    global _pool
    if processes <= 0:
        return None
    with _pool_guard:
        if _pool is not None and _pool.processes == processes:
            return _pool
        if not start:
            return None
        if _pool is not None:  # of another size
            _pool.shutdown()
        _pool = AnalysisPool(processes)
        atexit.register(_pool.shutdown)
        return _pool


def close_shared_pool() -> None:
    """Stop the process's workers, if it has started any: the command is done."""
    global _pool
    with _pool_guard:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


def discard_pool(pool: AnalysisPool) -> None:
    """Forget a pool whose worker died (a broken pool refuses all work); the next cycle makes a new one."""
    global _pool
    with _pool_guard:
        if _pool is not pool:
            return
        _pool = None
    log.warning("an analysis worker process died; this cycle's captures are analysed in the main process")
    pool.shutdown()
