"""Document diffs for pages: two versions' texts in, their word diff out, within a time budget.

`monitor.changes.word_diff` can take seconds on a document rewritten end to end (diff-match-patch's bisection
is pure Python). A page must answer quickly, so a large diff is computed in a worker process and, when it does
not finish within the budget, the page shows a paragraph-level diff meanwhile and says so; the word diff is
cached when it arrives (keyed by the two texts' hashes, so it survives re-imports and serves every source).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import concurrent.futures.process
import difflib
import multiprocessing
import os
import re
import threading
from collections import OrderedDict
from typing import Any

from monitor.changes import word_diff

# Below this many changed characters the word diff is computed inline (it is quick on small changes).
INLINE_LIMIT = 800
DEFAULT_BUDGET_SECONDS = 0.05
_PARAGRAPH = re.compile(r"[^\n]*\n*")
_CACHE_SIZE = 512

_cache: OrderedDict[tuple[str, str], list[list[Any]]] = OrderedDict()
_pending: dict[tuple[str, str], concurrent.futures.Future] = {}
_lock = threading.Lock()
_executors: dict[str, concurrent.futures.ProcessPoolExecutor] = {}


def _remember(key: tuple[str, str], ops: list[list[Any]]) -> None:
    with _lock:
        _cache[key] = ops
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        _pending.pop(key, None)


def _word_diff_lists(before: str, after: str) -> list[list[Any]]:
    return [[op, text] for op, text in word_diff(before, after)]


def paragraph_diff(before: str, after: str) -> list[list[Any]]:
    """A coarse diff by whole paragraphs (fast on any size)."""
    a = [p for p in _PARAGRAPH.findall(before) if p]
    b = [p for p in _PARAGRAPH.findall(after) if p]
    ops: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append([0, "".join(a[i1:i2])])
            continue
        if i2 > i1:
            ops.append([-1, "".join(a[i1:i2])])
        if j2 > j1:
            ops.append([1, "".join(b[j1:j2])])
    return ops


def _changed_size(coarse: list[list[Any]]) -> int:
    return sum(len(text) for op, text in coarse if op)


def _lower_priority() -> None:
    """Visitors' diffs: below the server's requests, which each take milliseconds, so that a word diff taking a
    second of CPU never holds a core the pages need."""
    os.nice(10)


def _idle_priority() -> None:
    """Prewarming: only CPU time nothing else wants (Linux SCHED_IDLE; elsewhere the lowest nice)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        os.nice(19)


def _pool(kind: str) -> concurrent.futures.ProcessPoolExecutor:
    """One worker for diffs a visitor waits for, one (lower priority) for prewarming the linked diffs."""
    with _lock:
        if kind not in _executors:
            # spawn: the server is threaded, and forking a threaded process is unsafe
            _executors[kind] = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_idle_priority if kind == "background" else _lower_priority)
        return _executors[kind]


def _submit(key: tuple[str, str], before: str, after: str, kind: str = "visitor") -> concurrent.futures.Future:
    with _lock:
        future = _pending.get(key)
    if future is not None and (kind == "background" or future.running() or future.done()):
        return future
    future = _pool(kind).submit(_word_diff_lists, before, after)
    with _lock:
        _pending[key] = future

    def done(f: concurrent.futures.Future) -> None:
        if not f.cancelled() and f.exception() is None:
            _remember(key, f.result())
        else:
            with _lock:
                if _pending.get(key) is f:
                    _pending.pop(key, None)
    future.add_done_callback(done)
    return future


def document_diff(before: str, after: str, key: tuple[str, str], budget: float | None = DEFAULT_BUDGET_SECONDS
                  ) -> tuple[list[list[Any]], bool]:
    """(ops, complete): the word diff, or within `budget` seconds a paragraph diff (complete=False).

    `budget=None` waits for the word diff however long it takes (the static export).
    """
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key], True
    coarse = paragraph_diff(before, after)
    if budget is None or _changed_size(coarse) <= INLINE_LIMIT:
        ops = _word_diff_lists(before, after)
        _remember(key, ops)
        return ops, True
    try:
        future = _submit(key, before, after)
        return future.result(timeout=budget), True
    except concurrent.futures.TimeoutError:
        return coarse, False
    except (concurrent.futures.process.BrokenProcessPool, RuntimeError, OSError):
        shutdown()  # a worker died: start afresh next time, show the coarse diff now
        return coarse, False


def start() -> None:
    """Start the visitors' diff worker now, so the first large diff does not pay for a process start."""
    try:
        _pool("visitor").submit(int).result(timeout=30)
    except (concurrent.futures.process.BrokenProcessPool, concurrent.futures.TimeoutError, RuntimeError, OSError):
        shutdown()


def prewarm(pairs: list[tuple[tuple[str, str], str, str]]) -> None:
    """Start computing the word diffs of these (key, before, after) in the background."""
    for key, before, after in pairs:
        with _lock:
            if key in _cache:
                continue
        if _changed_size(paragraph_diff(before, after)) > INLINE_LIMIT:
            try:
                _submit(key, before, after, kind="background")
            except (concurrent.futures.process.BrokenProcessPool, RuntimeError, OSError):
                shutdown()
                return


def shutdown() -> None:
    """Stop the diff workers (their processes too: an idle worker would outlive a server stopped by a signal)."""
    with _lock:
        executors = list(_executors.values())
        _executors.clear()
        _pending.clear()
    for executor in executors:
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        # Its manager thread closes the wakeup pipe once it sees the workers gone; an exit before that thread has
        # ended made the interpreter's own executor clean-up write to the closed pipe ("Bad file descriptor").
        executor.shutdown(wait=True)


atexit.register(shutdown)
