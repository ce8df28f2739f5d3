"""Blocks: a document's text (normalised form or raw Markdown / plain text) in, its headings, list items and
paragraphs out (`Block`s, hard-wrapped lines joined, Markdown inline syntax turned into words)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.extract.text import strip_markdown_inline
from monitor.memo import text_memo

__all__ = ["Block", "clean_inline", "split_blocks"]

_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")
# Text captured without separators ("permission.You agree", "Meta:(i) access", ";(ii) extract").
_GLUED_SENTENCE = re.compile(r"(?<=[a-z)\]][a-z)\]][.;:])(?=(?:\((?:[a-z]{1,4}|\d{1,2})\)|[A-Z][a-z]))")


# Consecutive versions of a document share almost every line, so the clean-up is memoised.
@text_memo
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
class Block:
    """A heading, a list item (its label or bullet) or a paragraph, its hard-wrapped lines joined."""

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


def split_blocks(text: str) -> list[Block]:
    """Group lines into blocks: headings, list items and paragraphs; hard-wrapped lines are joined.

    A blank line ends every block, so each run of non-blank lines is read on its own. Consecutive versions
    of a document share almost all of them, so their blocks are memoised (and shared: read-only).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    start = 0
    for index, line in enumerate(lines):
        if not line.strip():
            if index > start:
                blocks.extend(_paragraph_blocks("\n".join(lines[start:index])))
            start = index + 1
    if start < len(lines):
        blocks.extend(_paragraph_blocks("\n".join(lines[start:])))
    return blocks


@text_memo
def _paragraph_blocks(paragraph: str) -> tuple[Block, ...]:
    """The blocks of a run of non-blank lines."""
    lines = paragraph.split("\n")
    blocks: list[Block] = []
    current: Block | None = None

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
            current = Block(clean_inline(raw.strip()), _indent_of(raw), heading=True)
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
            blocks.append(Block(rest if label else heading_text, 0, label=label, heading=True))
            continue
        stripped = stripped.lstrip("> ").strip() if stripped.startswith(">") else stripped
        bullet, label, rest = _split_marker(stripped)
        if bullet or label or current is None:
            close()
            current = Block(clean_inline(rest), _indent_of(raw), label=label, bullet=bullet)
        else:
            current.text += " " + clean_inline(stripped)
    close()
    return tuple(blocks)
