"""Change stage: two versions' clauses in, `ClauseChange`s out (kind, direction, reason, word diff)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

DIRECTIONS = ("tightened", "loosened", "reworded", "unclear")
ALERTING_DIRECTIONS = ("tightened", "unclear")

# A diff is a list of (op, text) with op -1 deleted, 0 kept, 1 inserted.
Diff = list[tuple[int, str]]


@dataclass(frozen=True)
class ClauseChange:
    """One change to a watched clause between two versions of a document."""

    key: str
    path: str
    kind: str  # added | removed | modified
    categories: tuple[str, ...]
    direction: str  # one of DIRECTIONS
    reason: str
    before: str
    after: str
    diff: Diff


_WORD = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def word_diff(before: str, after: str) -> Diff:
    """Word-level diff (diff-match-patch on word tokens, then semantic cleanup)."""
    dmp = diff_match_patch()
    words: list[str] = [""]
    index: dict[str, int] = {}

    def encode(text: str) -> str:
        chars = []
        for token in _WORD.findall(text):
            if token not in index:
                index[token] = len(words)
                words.append(token)
            chars.append(chr(index[token]))
        return "".join(chars)

    encoded_before, encoded_after = encode(before), encode(after)
    diffs = dmp.diff_main(encoded_before, encoded_after, False)
    decoded = [(op, "".join(words[ord(c)] for c in chunk)) for op, chunk in diffs]
    dmp.diff_cleanupSemantic(decoded)
    return [(op, text) for op, text in decoded if text]


def render_diff_text(diff: Diff) -> str:
    """Plain-text rendering: deletions as [-...-], insertions as {+...+}."""
    parts = []
    for op, text in diff:
        if op == 0:
            parts.append(text)
        elif op < 0:
            parts.append(f"[-{text}-]")
        else:
            parts.append(f"{{+{text}+}}")
    return "".join(parts)
