"""Segmentation: a document's text (normalised form or raw Markdown / plain text) in, `Segment`s out."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from monitor.extract.text import strip_markdown_inline

# Token counting the way the clause is judged: lower-case words of 2+ characters, unique.
_WORD = re.compile(r"[a-z0-9]+")
# A block up to this many distinct words stays one clause; beyond it, it is split into sentences.
SHORT_WORDS = 40
# A sentence (or merged sentence group) beyond this is split at its inline list items.
LONG_WORDS = 72


@dataclass(frozen=True)
class Segment:
    """One candidate clause: its text as written (with its item label), where it sits, and its lead-in."""

    text: str
    path: str
    heading: str
    label: str = ""
    lead: str = ""
    kind: str = "paragraph"  # paragraph | item | sentence | inline | heading


@functools.lru_cache(maxsize=65536)
def count_words(text: str) -> int:
    """Distinct lower-case words of two or more characters (the unit clause size is judged in)."""
    return len({w for w in _WORD.findall(text.lower()) if len(w) > 1})


# ---------------------------------------------------------------- Markdown clean-up

_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")
# Text captured without separators ("permission.You agree", "Meta:(i) access", ";(ii) extract").
_GLUED_SENTENCE = re.compile(r"(?<=[a-z)\]][a-z)\]][.;:])(?=(?:\((?:[a-z]{1,4}|\d{1,2})\)|[A-Z][a-z]))")


# Consecutive versions of a document share almost every line, so the clean-up is memoised.
@functools.lru_cache(maxsize=65536)
def clean_inline(line: str) -> str:
    """Markdown inline syntax to words (the extract stage's clean-up, for raw Markdown given directly),
    then separate sentences and items that were captured glued together."""
    line = strip_markdown_inline(line).replace("\u00a0", " ").replace("\u200b", "")
    return _GLUED_SENTENCE.sub(" ", line)


# ---------------------------------------------------------------- blocks

_BULLET = re.compile(r"^([*+\-•·▪◦‣●])(?:\s+|(?=[A-Z“\"(]))")
_NUMBERED = re.compile(r"^((?:[A-Z]\.)?\d{1,3}(?:\.\d{1,3})*\.|(?:[A-Z]\.)?\d{1,3}(?:\.\d{1,3})+)(?=\s|$)")
_PAREN = re.compile(r"^(\(?(?:[a-zA-Z]{1,2}|[ivxlcIVXLC]{1,6}|\d{1,3})\))(?=\s|$)")
_LETTER_DOT = re.compile(r"^((?:[a-zA-Z]|[ivxlc]{1,6}|[IVXLC]{1,6})\.)(?=\s)")
_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass
class _Block:
    text: str
    indent: int
    label: str = ""
    bullet: bool = False
    heading: bool = False


def _indent_of(line: str) -> int:
    expanded = line.replace("\t", "    ")
    return len(expanded) - len(expanded.lstrip(" "))


def _split_marker(stripped: str) -> tuple[bool, str, str]:
    """(bullet?, label, rest) of a line that may open a list item."""
    bullet = False
    match = _BULLET.match(stripped)
    if match:
        bullet = True
        stripped = stripped[match.end():].lstrip()
    for pattern in (_NUMBERED, _PAREN, _LETTER_DOT):
        match = pattern.match(stripped)
        if match:
            return bullet, match.group(1), stripped[match.end():].strip()
    return bullet, "", stripped


def split_blocks(text: str) -> list[_Block]:
    """Group lines into blocks: headings, list items and paragraphs; hard-wrapped lines are joined.

    A blank line ends every block, so each run of non-blank lines is read on its own. Consecutive versions
    of a document share almost all of them, so their blocks are memoised (and shared: read-only).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[_Block] = []
    start = 0
    for index, line in enumerate(lines):
        if not line.strip():
            if index > start:
                blocks.extend(_paragraph_blocks("\n".join(lines[start:index])))
            start = index + 1
    if start < len(lines):
        blocks.extend(_paragraph_blocks("\n".join(lines[start:])))
    return blocks


@functools.lru_cache(maxsize=65536)
def _paragraph_blocks(paragraph: str) -> tuple[_Block, ...]:
    """The blocks of a run of non-blank lines."""
    lines = paragraph.split("\n")
    blocks: list[_Block] = []
    current: _Block | None = None

    def close() -> None:
        nonlocal current
        if current is not None and current.text.strip():
            current.text = " ".join(current.text.split())
            blocks.append(current)
        current = None

    for index, raw in enumerate(lines):
        if raw.strip() and _SETEXT.match(raw) and current is not None and current.heading:
            close()
            continue
        if not raw.strip() or _RULE.match(raw):
            if _SETEXT.match(raw) and current is not None and not current.label and not current.bullet:
                current.heading = True
            close()
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _SETEXT.match(following) and following.strip() and current is None:
            current = _Block(clean_inline(raw.strip()), _indent_of(raw), heading=True)
            label_bullet, label, rest = _split_marker(current.text)
            if label:
                current.label, current.text = label, rest
            continue
        stripped = raw.strip()
        atx = _ATX.match(stripped)
        if atx:
            close()
            heading_text = clean_inline(atx.group(2))
            _, label, rest = _split_marker(heading_text)
            blocks.append(_Block(rest if label else heading_text, 0, label=label, heading=True))
            continue
        stripped = stripped.lstrip("> ").strip() if stripped.startswith(">") else stripped
        bullet, label, rest = _split_marker(stripped)
        if bullet or label or current is None:
            close()
            current = _Block(clean_inline(rest), _indent_of(raw), label=label, bullet=bullet)
        else:
            current.text += " " + clean_inline(stripped)
    close()
    return tuple(blocks)


# ---------------------------------------------------------------- sentences

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


# ---------------------------------------------------------------- paths

def _label_key(label: str) -> str:
    return label.strip("().").strip()


def _label_rank(label: str, previous_siblings: dict[int, str]) -> int:
    """Nesting rank of a label type where indentation does not tell (plain-text licences)."""
    key = _label_key(label)
    if re.fullmatch(r"(?:[A-Z]\.)?\d+(?:\.\d+)*", key):
        return 1 + key.count(".")
    if re.fullmatch(r"[ivxlc]+", key) and not (key in ("i", "v", "x", "c", "l") and _follows_letter(key, previous_siblings)):
        return 6
    if re.fullmatch(r"[a-z]{1,2}", key):
        return 5
    if re.fullmatch(r"[A-Z]", key):
        return 4
    return 7


def _follows_letter(key: str, previous_siblings: dict[int, str]) -> bool:
    last = previous_siblings.get(5, "")
    return bool(last) and len(last) == 1 and ord(key) == ord(last) + 1


def _join_path(parent: str, label: str) -> str:
    key = _label_key(label)
    if not key:
        return parent
    if re.fullmatch(r"(?:[A-Z]\.)?\d+(?:\.\d+)*", key):
        if not parent or key.startswith(parent + ".") or not re.fullmatch(r"[\w.]+", parent):
            return key
        return f"{parent}.{key}" if not re.search(r"\)$", parent) else f"{parent}({key})"
    return f"{parent}({key})" if parent else f"({key})"


# ---------------------------------------------------------------- the document

def segment_document(text: str, *, chinese: bool = True) -> list[Segment]:
    """Every clause candidate of a document, in order, with its section path and nearest heading.

    Paragraphs written mainly in Chinese go to `segment_zh` (unless `chinese` is false), the rest comes here.
    """
    if chinese:
        from monitor.clauses.segment_zh import has_chinese, segment_mixed
        if has_chinese(text):
            return segment_mixed(text)
    segments: list[Segment] = []
    heading = ""
    stack: list[tuple[tuple[int, int], str]] = []  # ((indent, rank), path)
    siblings: dict[int, str] = {}
    bullet_counts: dict[str, int] = {}
    lead = ""
    lead_indent = -1
    for block in split_blocks(text):
        if block.heading or _looks_like_heading(block):
            heading = block.text
            stack = []
            siblings = {}
            lead, lead_indent = "", -1
            if block.label:
                stack.append(((-1, 0), _label_key(block.label)))
            segments.append(Segment(block.text, stack[-1][1] if stack else "", heading, block.label, "", "heading"))
            continue
        is_item = bool(block.label or block.bullet)
        if is_item:
            rank = _label_rank(block.label, siblings) if block.label else 8
            level = (block.indent, rank)
            while stack and stack[-1][0] >= level and stack[-1][0][0] >= 0:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            if block.label:
                path = _join_path(parent, block.label)
                siblings[rank] = _label_key(block.label)
            else:
                bullet_counts[parent] = bullet_counts.get(parent, 0) + 1
                path = f"{parent} > bullet {bullet_counts[parent]}" if parent else f"bullet {bullet_counts[parent]}"
            stack.append((level, path))
            if block.indent <= lead_indent and not block.label and lead and not lead.endswith(":"):
                lead, lead_indent = "", -1
        else:
            path = stack[-1][1] if stack else ""
            if block.indent == 0:
                bullet_counts = {}
        context = lead if (is_item and lead) else ""
        segments.extend(_segment_block(block.label, block.text, block.bullet, path, heading, context))
        if block.text.rstrip().endswith(":"):
            lead, lead_indent = block.text, block.indent
        elif not is_item:
            lead, lead_indent = "", -1
    return segments


def _looks_like_heading(block: _Block) -> bool:
    """Plain-text headings: a short line without closing punctuation, or an all-capitals title."""
    text = block.text
    if block.bullet or len(text) > 90 or text.endswith((".", ":", ";", ",")):
        return False
    words = text.split()
    if block.label:
        return 0 < len(words) <= 6 and text[:1].isupper() and not re.search(r"[.;:]\s", text)
    return len(words) <= 8 and (text.isupper() or text.istitle())


# Consecutive versions of a document share almost every block in the same place: its segments are memoised.
@functools.lru_cache(maxsize=65536)
def _segment_block(label: str, body: str, bullet: bool, path: str, heading: str, context: str) -> tuple[Segment, ...]:
    full = f"{label} {body}".strip() if label else body
    kind = "item" if (label or bullet) else "paragraph"
    if count_words(full) <= SHORT_WORDS:
        return (Segment(full, path, heading, label, context, kind),)
    out: list[Segment] = []
    runs = join_continued_lists(group_sentences(split_sentences(body)))
    for number, (group, is_list) in enumerate(runs):
        text = f"{label} {group}".strip() if (label and number == 0) else group
        group_label = label if number == 0 else ""
        if is_list:
            out.extend(_split_list(text, path, heading, group_label, context))
            continue
        sentence_kind = kind if len(runs) == 1 else "sentence"
        out.extend(_split_long(text, path, heading, group_label, context, sentence_kind))
    return tuple(out)


def _split_list(text: str, path: str, heading: str, label: str, context: str) -> list[Segment]:
    """An inline list running over several sentences: its lead-in, then one clause per item (sentences kept)."""
    body = text[len(label):].strip() if label and text.startswith(label) else text
    _, positions = _list_positions(body)
    lead, items = _cut(body, positions)
    out: list[Segment] = []
    if lead:
        lead_text = f"{label} {lead}".strip() if label else lead
        for sentence in group_sentences(split_sentences(lead_text)):
            out.extend(_split_long(sentence, path, heading, label, context, "sentence"))
    item_context = split_sentences(lead)[-1] if lead else context
    for item_label, item_text in items:
        item_path = _join_path(path, item_label)
        if count_words(item_text) <= 2 * LONG_WORDS:
            out.append(Segment(item_text, item_path, heading, item_label, item_context, "inline"))
            continue
        for number, sentence in enumerate(group_sentences(split_sentences(item_text))):
            out.extend(_split_long(sentence, item_path, heading, item_label if number == 0 else "", item_context,
                                   "inline"))
    return out


def _split_long(text: str, path: str, heading: str, label: str, context: str, kind: str) -> list[Segment]:
    """A sentence too long to be one clause is broken at its inline list items."""
    if count_words(text) <= LONG_WORDS:
        return [Segment(text, path, heading, label, context, kind)]
    body = text[len(label):].strip() if label and text.startswith(label) else text
    lead, items = split_inline_items(body)
    if not items:
        return [Segment(text, path, heading, label, context, kind)]
    out: list[Segment] = []
    if lead:
        lead_text = f"{label} {lead}".strip() if label else lead
        out.append(Segment(lead_text, path, heading, label, context, kind))
    item_context = lead or context
    for item_label, item_text in items:
        item_path = _join_path(path, item_label)
        out.extend(_split_long(item_text, item_path, heading, item_label, item_context, "inline"))
    return out
