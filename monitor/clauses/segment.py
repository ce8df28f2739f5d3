"""Segmentation: a document's text (normalised form or raw Markdown / plain text) in, `Segment`s out.

A document is cut into blocks (`blocks.py`), a long block into sentences and inline list items
(`sentences.py`); here each piece gets its section path, its heading and its lead-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.clauses.blocks import Block, split_blocks
from monitor.clauses.sentences import (LONG_WORDS, count_words, group_sentences, inline_list, join_continued_lists,
                                       split_inline_items, split_sentences)
from monitor.memo import text_memo

# A block up to this many distinct words stays one clause; beyond it, it is split into sentences.
SHORT_WORDS = 40


@dataclass(frozen=True)
class Segment:
    """One candidate clause: its text as written (with its item label), where it sits, and its lead-in."""

    text: str
    path: str
    heading: str
    label: str = ""
    lead: str = ""
    kind: str = "paragraph"  # paragraph | item | sentence | inline | heading


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
        # segment_zh imports Segment and segment_document from here
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


def _looks_like_heading(block: Block) -> bool:
    """Plain-text headings: a short line without closing punctuation, or an all-capitals title."""
    text = block.text
    if block.bullet or len(text) > 90 or text.endswith((".", ":", ";", ",")):
        return False
    words = text.split()
    if block.label:
        return 0 < len(words) <= 6 and text[:1].isupper() and not re.search(r"[.;:]\s", text)
    return len(words) <= 8 and (text.isupper() or text.istitle())


# Consecutive versions of a document share almost every block in the same place: its segments are memoised.
@text_memo
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
    lead, items = inline_list(body)
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
