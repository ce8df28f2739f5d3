"""Word diff: two texts in, their diff out as a list of (op, text), op -1 deleted, 0 kept, 1 inserted
(diff-match-patch on word tokens, so an edit never splits a word)."""

from __future__ import annotations

import re

from diff_match_patch import diff_match_patch

__all__ = ["DIFF_TIMEOUT_SECONDS", "Diff", "word_diff"]

# A diff is a list of (op, text) with op -1 deleted, 0 kept, 1 inserted.
Diff = list[tuple[int, str]]

_WORD = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
DIFF_TIMEOUT_SECONDS = 0.2
_PARAGRAPH = re.compile(r"[^\n]*\n*")


def word_diff(before: str, after: str) -> Diff:
    """Word-level diff (diff-match-patch on word tokens, then semantic cleanup).

    Paragraphs are diffed first and only the paragraphs that changed are diffed word by word,
    so the cost grows with what changed, not with the length of the document.
    """
    dmp = diff_match_patch()
    # A document rewritten end to end has no common paragraphs; bound the word diff of such a
    # chunk (diff-match-patch then returns a coarser but still correct diff).
    dmp.Diff_Timeout = DIFF_TIMEOUT_SECONDS
    paragraphs = _Tokens()
    by_paragraph = dmp.diff_main(paragraphs.encode(_PARAGRAPH.findall(before)),
                                 paragraphs.encode(_PARAGRAPH.findall(after)), False)
    result: Diff = []
    pending = {-1: "", 1: ""}
    for op, chunk in by_paragraph + [(0, "")]:
        text = paragraphs.decode(chunk)
        if op != 0:
            pending[op] += text
            continue
        if pending[-1] or pending[1]:
            result += _words_diff(dmp, pending[-1], pending[1])
            pending = {-1: "", 1: ""}
        if text:
            result.append((0, text))
    return _merge(result)


def _words_diff(dmp: diff_match_patch, before: str, after: str) -> Diff:
    if not before or not after:
        return [(-1, before)] if before else [(1, after)]
    words = _Tokens()
    diffs = dmp.diff_main(words.encode(_WORD.findall(before)), words.encode(_WORD.findall(after)), False)
    # Clean up while each character still stands for a whole word, so edits never split a word.
    dmp.diff_cleanupSemantic(diffs)
    return [(op, words.decode(chunk)) for op, chunk in diffs if chunk]


class _Tokens:
    """Maps tokens (words or paragraphs) to single characters so diff-match-patch diffs them as units."""

    def __init__(self) -> None:
        self.tokens: list[str] = [""]
        self.index: dict[str, int] = {}

    def encode(self, tokens: list[str]) -> str:
        chars = []
        for token in tokens:
            if token not in self.index:
                self.index[token] = len(self.tokens)
                self.tokens.append(token)
            chars.append(chr(self.index[token]))
        return "".join(chars)

    def decode(self, chars: str) -> str:
        return "".join(self.tokens[ord(c)] for c in chars)


def _merge(diff: Diff) -> Diff:
    """Join neighbouring pieces with the same operation."""
    merged: Diff = []
    for op, text in diff:
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged
