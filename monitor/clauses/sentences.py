"""Sentences: a paragraph in, its sentences out (abbreviations and references do not end one), grouped with
their run-in titles and follow-ups, and its inline lists "(a) ...; (b) ..." cut into their items."""

from __future__ import annotations

import re

from monitor.memo import text_memo

__all__ = ["LONG_WORDS", "count_words", "group_sentences", "inline_list", "join_continued_lists",
           "split_inline_items", "split_sentences"]

# Token counting the way the clause is judged: lower-case words of 2+ characters, unique.
_WORD = re.compile(r"[a-z0-9]+")
# A sentence (or merged sentence group) beyond this is split at its inline list items.
LONG_WORDS = 72


@text_memo
def count_words(text: str) -> int:
    """Distinct lower-case words of two or more characters (the unit clause size is judged in)."""
    return len({w for w in _WORD.findall(text.lower()) if len(w) > 1})


_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "inc", "ltd", "llc", "co", "corp", "no", "nos", "sec", "art", "arts", "para",
    "vs", "v", "mr", "ms", "mrs", "dr", "st", "u.s", "u.k", "e.u", "approx", "incl", "cf", "fig", "p", "pp",
    "viz", "al", "jr", "sr", "dept", "est", "s.a", "s.a.s", "b.v", "gmbh", "n.a", "a.k.a", "ph.d",
}
_BOUNDARY = re.compile(r"([.!?])([\"”’)\]]*)\s+(?=[\"“‘(\[]?[A-Z0-9•])")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z.]+)\.$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?")
_REFERENCE_END = re.compile(r"\b(?:section|sections|clause|article|paragraph|§)\s*[\d.]+$", re.I)


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; abbreviations, numbered references and parentheses do not end one."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(2)
        candidate = text[start:end]
        word = _word_before(text, start, match.start(1) + 1)
        if word and word.lower().rstrip(".") in _ABBREVIATIONS:
            continue
        if word and _INITIALS.fullmatch(word):
            continue  # initials and U.S.-style abbreviations
        if candidate.endswith(".") and _REFERENCE_END.search(candidate):
            continue
        if candidate.count("(") > candidate.count(")"):
            continue
        sentences.append(candidate.strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def _word_before(text: str, start: int, end: int) -> str:
    """The letters and dots before the full stop that ends `text[start:end]` ("" if it ends otherwise)."""
    # The word holds no space, so the search starts at the last one: not at `start`, which would make
    # a paragraph's sentence splitting quadratic in its length.
    match = _WORD_BEFORE_DOT.search(text, max(start, text.rfind(" ", start, end) + 1), end)
    return match.group(1) if match else ""


_CONTINUATION = re.compile(
    r"^(?:for the avoidance of doubt|for example|for instance|this includes|this means|in particular|"
    r"that is|such as|including|e\.g\.|i\.e\.)\b", re.I)


def group_sentences(sentences: list[str]) -> list[str]:
    """Attach run-in titles to the sentence they introduce and short follow-ups to the rule they explain."""
    groups: list[str] = []
    pending_title = ""
    for sentence in sentences:
        if pending_title:
            sentence = f"{pending_title} {sentence}"
            pending_title = ""
        words = sentence.rstrip(".:").split()
        if len(words) <= 4 and not re.search(r"\b(?:not|must|may|shall|will|is|are)\b", sentence, re.I):
            pending_title = sentence
            continue
        if groups and _CONTINUATION.match(sentence) and count_words(groups[-1] + " " + sentence) <= LONG_WORDS:
            groups[-1] = f"{groups[-1]} {sentence}"
            continue
        groups.append(sentence)
    if pending_title:
        if groups:
            groups[-1] = f"{groups[-1]} {pending_title}"
        else:
            groups.append(pending_title)
    return groups


# ---------------------------------------------------------------- inline lists

# The "(" comes first so that the engine scans for it; the look-behinds (which end with it) then check what
# precedes a marker: the start, a space or punctuation, "or" or "and".
_INLINE = re.compile(r"\((?:(?<=^\()|(?<=[\s:;,—–\-]\()|(?<=\bor\()|(?<=\band\())"
                     r"(?P<label>[a-z]{1,2}|[ivx]{1,6}|\d{1,2}|[A-Z])\)(?=\s)")
_ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv",
          "xvi", "xvii", "xviii", "xix", "xx"]


def _sequence(kind: str) -> list[str]:
    if kind == "roman":
        return _ROMAN
    if kind == "number":
        return [str(n) for n in range(1, 40)]
    if kind == "upper":
        return [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return [chr(c) for c in range(ord("a"), ord("z") + 1)]


def _label_kind(first: str) -> str | None:
    if first.isdigit():
        return "number"
    if first.isupper():
        return "upper"
    if first in _ROMAN and first not in ("v", "x"):
        return "roman"
    if len(first) == 1:
        return "letter"
    return None


def _list_positions(text: str, kind: str | None = None, first: str | None = None) -> tuple[str | None, list[tuple[int, str]]]:
    """(kind, [(offset, label)]) of the inline list markers of `text` that follow one sequence.

    Without `kind`, the sequence starts at the first marker; with it, at the marker labelled `first`
    (a list continuing from the previous sentence).
    """
    markers = list(_INLINE.finditer(text))
    if not markers:
        return None, []
    if kind is None:
        first = markers[0].group("label")
        kind = _label_kind(first)
        if kind is None:
            return None, []
    expected = _sequence(kind)
    if first not in expected:
        return None, []
    expected = expected[expected.index(first):]
    positions: list[tuple[int, str]] = []
    for marker in markers:
        label = marker.group("label")
        if len(positions) < len(expected) and label == expected[len(positions)]:
            positions.append((marker.start(), label))
    return kind, positions


def _cut(text: str, positions: list[tuple[int, str]]) -> tuple[str, list[tuple[str, str]]]:
    lead = text[:positions[0][0]].strip()
    items = []
    for number, (start, label) in enumerate(positions):
        end = positions[number + 1][0] if number + 1 < len(positions) else len(text)
        items.append((f"({label})", text[start:end].strip()))
    return lead, items


def split_inline_items(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(lead-in, [(label, item text)]) of a sentence holding an inline list "(a) ...; (b) ..."; no list: ("", [])."""
    _, positions = _list_positions(text)
    if len(positions) < 2:
        return "", []
    return _cut(text, positions)


def inline_list(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(lead-in, [(label, item text)]) of a text known to hold an inline list, however few items it has."""
    _, positions = _list_positions(text)
    return _cut(text, positions)


def join_continued_lists(groups: list[str]) -> list[tuple[str, bool]]:
    """Sentence groups with an inline list that runs on into the following sentences joined into one.

    "...Meta:(i) access .... For the avoidance of doubt, ...;(ii) extract ...;(ix) use .... For the
    avoidance of doubt, ...;(x) reverse engineer ..." is one list of items (i)-(xv) whose items hold
    several sentences. Returns (text, is_list) per run.
    """
    out: list[tuple[str, bool]] = []
    index = 0
    while index < len(groups):
        text = groups[index]
        kind, positions = _list_positions(text)
        following = index + 1
        if positions and (len(positions) >= 2 or _INLINE.search(text).start() > 0 or len(groups) > 1):
            while following < len(groups):
                sequence = _sequence(kind)
                last = sequence.index(positions[-1][1])
                if last + 1 >= len(sequence):
                    break
                _, more = _list_positions(groups[following], kind, sequence[last + 1])
                if not more:
                    break
                text = f"{text} {groups[following]}"
                _, positions = _list_positions(text, kind, positions[0][1])
                following += 1
        if following > index + 1:
            out.append((text, True))
            index = following
        else:
            out.append((groups[index], False))
            index += 1
    return out
