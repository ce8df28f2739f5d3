"""Memos of the text functions that extraction and classification call once per line, block or clause.

Consecutive versions of a document, and the repeated blocks of one document, pass the same texts again,
so these functions remember their answers. A memo pays only for a text seen again soon after, and one sized
by what a process has seen grows with the registry: one process that analysed the 776 documents of
../shared/corpus kept 51 MB in memos of up to 200,000 entries (the largest held 14,858 of its 65,536),
33 MB with these (bench/analysis_memory.py). TEXT_MEMO_ENTRIES holds the blocks of about ten documents of
400 blocks: the history of the document being analysed, and little more.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

TEXT_MEMO_ENTRIES = 4096


def text_memo(function: F) -> F:
    """`function` with a memo of its TEXT_MEMO_ENTRIES latest distinct calls (an LRU)."""
    return functools.lru_cache(maxsize=TEXT_MEMO_ENTRIES)(function)  # type: ignore[return-value]
