"""The text memos are bounded by TEXT_MEMO_ENTRIES, whatever a process goes on to analyse."""

from __future__ import annotations

import importlib
import pkgutil

import monitor.clauses
import monitor.extract
from monitor.memo import TEXT_MEMO_ENTRIES, text_memo

# Memos that hold something other than document texts, each bounded on its own terms.
OTHER_BOUNDS = {
    "monitor.clauses.language._identified": 8192,  # samples of at most 200 characters
}


def _memos() -> dict[str, int | None]:
    found = {}
    for package in (monitor.clauses, monitor.extract):
        for module_info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(module_info.name)
            for name, value in vars(module).items():
                if hasattr(value, "cache_info") and getattr(value, "__module__", None) == module.__name__:
                    found[f"{module.__name__}.{name}"] = value.cache_info().maxsize
    return found


def test_every_text_memo_of_extraction_and_classification_is_bounded_by_the_shared_limit() -> None:
    memos = _memos()
    assert "monitor.clauses.segment._segment_block" in memos  # the walk found the memos
    unbounded = {name: size for name, size in memos.items()
                 if size is None or size > OTHER_BOUNDS.get(name, TEXT_MEMO_ENTRIES)}
    assert unbounded == {}


def test_a_text_memo_keeps_only_its_latest_entries() -> None:
    calls = []

    @text_memo
    def length(text: str) -> int:
        calls.append(text)
        return len(text)

    for number in range(TEXT_MEMO_ENTRIES + 10):
        length(f"clause {number}")
    assert length.cache_info().currsize == TEXT_MEMO_ENTRIES
    length(f"clause {TEXT_MEMO_ENTRIES + 9}")  # the latest is remembered
    length("clause 0")  # the oldest is not
    assert calls[-1] == "clause 0" and len(calls) == TEXT_MEMO_ENTRIES + 11
