"""Word search: a query and a clause's text in, whether every query word occurs (in any inflection) and the text
cut into plain and matching pieces for highlighting out.

A light suffix stripper, not a full stemmer: Porter and Snowball both reduce "competent" and "compete" to
"compet", which is the mistake this search exists to avoid ("compete" must not find "competent jurisdiction"),
while "competes", "competing", "competitor" and "competition" must all find "compete".
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Longest first; what is left must keep at least _SHORTEST letters ("uses" → "use", but "used" stays "used").
_SUFFIXES = sorted(["s", "es", "ed", "ing", "ings", "er", "ers", "or", "ors", "ion", "ions", "ition", "itions",
                    "ation", "ations", "itor", "itors", "itive", "itively", "ive", "ively", "ly", "ies", "ied",
                    "ment", "ments", "'s", "’s"], key=len, reverse=True)
_SHORTEST = 3


def stem(word: str) -> str:
    """The form shared by a word's inflections and derivations (compete, competes, competing, competitor)."""
    word = word.lower()
    for _ in range(2):  # "engineering" → "engineer" → "engin", as "engineer" → "engin"
        word = _strip_suffix(word)
    if word.endswith("e") and len(word) - 1 >= _SHORTEST:
        word = word[:-1]
    return word


def _strip_suffix(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _SHORTEST:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return word + "y"
            if word[-1] == word[-2] and word[-1] not in "aeiouls":  # "scrapped" → "scrap"
                word = word[:-1]
            return word
    return word


def query_stems(query: str) -> list[str]:
    """The distinct stems of a query's words, in order."""
    return list(dict.fromkeys(stem(word) for word in _WORD.findall(query)))


def prefilter(stems: list[str]) -> str:
    """A substring every matching text contains (for the database to narrow the candidates): the longest stem,
    without the "y" that "policies" → "policy" put back."""
    longest = max(stems, key=len) if stems else ""
    return longest[:-1] if longest.endswith("y") and len(longest) > _SHORTEST else longest


def highlight(text: str, stems: list[str]) -> list[tuple[str, bool]] | None:
    """`text` as (piece, is_match) pieces when every stem occurs in it as a whole word, else None."""
    wanted = set(stems)
    pieces: list[tuple[str, bool]] = []
    found: set[str] = set()
    position = 0
    for match in _WORD.finditer(text):
        word_stem = stem(match.group())
        if word_stem not in wanted:
            continue
        found.add(word_stem)
        if match.start() > position:
            pieces.append((text[position:match.start()], False))
        pieces.append((match.group(), True))
        position = match.end()
    if found != wanted:
        return None
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces
