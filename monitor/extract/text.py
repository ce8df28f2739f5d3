"""Markdown and plain text in, the normalised one-block-per-line text of a `Document` out."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from monitor.memo import text_memo

# Zero-width characters and soft hyphens carry no text but differ between captures.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")

# A line that opens a clause or list item starts a new block even without a blank line:
# bullets, "1.", "1)", "1.2", "(a)", "a.", "(iv)", "iv.", "D.4.", "Section 3.", "Article 5.".
MARKER = re.compile(
    r"""^(?:
        [-•*+·▪◦‣]
      | \(\s*(?:\d{1,3}|[a-zA-Z]{1,2}|[ivxlcIVXLC]{1,6})\s*\)
      | \d{1,3}(?:\.\d{1,3})+\.?
      | \d{1,3}[.)]
      | [ivxlcIVXLC]{1,6}[.)]
      | [a-zA-Z][.)]
      | [A-Z]\.\d{1,3}(?:\.\d{1,3})*\.?
      | (?:Section|SECTION|Article|ARTICLE|Clause|CLAUSE)\s+\d{1,3}(?:\.\d{1,3})*\.
    )(?=\s|$)""",
    re.VERBOSE,
)
_BULLET = re.compile(r"^[-•*+·▪◦‣](?=\s|$)")

_RELATIVE_DATE = re.compile(
    r"(?:\b(?:last\s+)?(?:updated|modified|edited|posted|published|changed)\s*:?\s*)?"
    r"\b(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b\.?"
    r"|\b(?:last\s+)?(?:updated|modified|edited)\s*:?\s*(?:just now|today|yesterday)\b\.?",
    re.IGNORECASE,
)
# Short blocks that are cookie-banner buttons or prompts, whatever element held them.
_COOKIE_BLOCK = re.compile(
    r"^(?:accept|reject|allow|deny|decline|manage|customi[sz]e)(?: all| only)?(?: essential| necessary| optional)?"
    r" cookies?(?: settings| preferences)?\.?$|^cookie (?:settings|preferences|policy)$|^we use cookies\b.{0,300}$",
    re.IGNORECASE,
)
# The letters _COOKIE_BLOCK can start with (no other character matches them under IGNORECASE):
# testing the first one spares a regex call per block.
_COOKIE_BLOCK_FIRST = frozenset("ARDMCWardmcw")

# A block left with only its marker or heading hashes once noise was removed.
_LONE_MARKER = re.compile(r"#{1,6}|[-•]")

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# Sites switch between US and UK date rendering with the visitor's locale ("December 1, 2025"
# and "1 December 2025"); one canonical form keeps that from looking like a new version.
_US_DATE = re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}}),\s*(\d{{4}})(?!\d)")
_MONTH = re.compile(_MONTHS)  # a quick scan (no leading \b) before _US_DATE

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT_1 = re.compile(r"^ {0,3}=+\s*$")
_SETEXT_2 = re.compile(r"^ {0,3}-+\s*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
_FENCE = re.compile(r"^ {0,3}(?:```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_LIST = re.compile(r"^(\s*)([-*+•]|\d{1,3}[.)])\s+(.*)$")

_IMAGE = re.compile(r"!\[[^\]]*\]\((?:[^()]|\([^()]*\))*\)")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\((?:[^()]|\([^()]*\))*\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_CODE = re.compile(r"(?<!\\)`+([^`]*)`+")
_STRONG = re.compile(r"(?<![\\\w])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_EMPHASIS_STAR = re.compile(r"(?<![\\*\w])\*(?=[^\s*])(.+?)(?<=[^\s\\*])\*(?![*\w])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\\\w])_(?=[^\s_])(.+?)(?<=[^\s\\_])_(?!\w)")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


# Captures of one document share almost every line, so the inline clean-ups are memoised.
@text_memo
def clean_inline(text: str) -> str:
    """Collapse whitespace, drop invisible characters, NUL, entities and relative dates; keep quotes."""
    if "&" in text:
        text = html.unescape(text)
    if "\x00" in text:  # no text column of PostgreSQL can hold it, and it is never part of the terms
        text = text.replace("\x00", "")
    if not text.isascii() and _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    text = " ".join(text.split())
    if (" ago" in text or "day" in text or "just now" in text) and _may_hold_relative_date(text):
        text = " ".join(_RELATIVE_DATE.sub(" ", text).split())
    if ", " in text and _MONTH.search(text):
        text = _US_DATE.sub(r"\2 \1 \3", text)
    return text


def _may_hold_relative_date(text: str) -> bool:
    # _RELATIVE_DATE scans slowly and "day" alone is common; every match holds one of these
    # once lower-cased (no other character matches their letters under IGNORECASE).
    lowered = text.lower()
    return " ago" in lowered or " now" in lowered or "today" in lowered or "terday" in lowered


@text_memo
def strip_markdown_inline(text: str) -> str:
    """Markdown inline syntax to plain words: link text without targets, no images or emphasis."""
    if "[" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub("", text))
        text = _REF_LINK.sub(r"\1", text)
    if "<" in text:
        text = _TAG.sub(" ", _AUTOLINK.sub(r"\1", text))
    if "`" in text:
        text = _CODE.sub(r"\1", text)
    for _ in range(2):  # nested emphasis such as ***x*** or **_x_**
        if "**" in text or "__" in text:
            text = _STRONG.sub(r"\2", text)
        if "*" in text:
            text = _EMPHASIS_STAR.sub(r"\1", text)
        if "_" in text:
            text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    return text


def normalise_markdown(text: str) -> str:
    """Markdown source to normalised text (headings, items, tables, joined paragraphs)."""
    return join_blocks(_BlockParser(markdown=True).parse(text))


def normalise_plain_text(text: str) -> str:
    """Plain text (licences, PDF text) to normalised text: hard-wrapped paragraphs joined."""
    return join_blocks(_BlockParser(markdown=False).parse(text))


def join_blocks(blocks: Iterable[str]) -> str:
    """Blocks (indent + marker + text) to the final text: cleaned, noise and repeats dropped."""
    kept: list[str] = []
    for block in blocks:
        body = clean_inline(block)
        if not body or _is_noise(body):
            continue
        indent = block[: len(block) - len(block.lstrip(" "))]
        kept.append(indent + body)
        if kept[-1] in kept[-4:-1]:  # else no run of 1-3 blocks can repeat the one before it
            _drop_repeat(kept)
    # NFC of the whole text, block by block: it never joins characters across the blank
    # lines, and ASCII blocks (half the text) are NFC already.
    return "\n\n".join(block if block.isascii() else unicodedata.normalize("NFC", block) for block in kept)


def _is_noise(body: str) -> bool:
    if len(body) < 400 and body[0] in _COOKIE_BLOCK_FIRST and _COOKIE_BLOCK.match(body):
        return True
    return len(body) <= 6 and bool(_LONE_MARKER.fullmatch(body))


def _drop_repeat(kept: list[str]) -> None:
    """Drop a run of 1-3 blocks that repeats the run just before it.

    Some pages render their title block twice (Le Chat: "Commercial Terms of Service /
    Effective: ..." in the hero and again above the text). Identical consecutive blocks
    carry no extra meaning in terms text, so dropping the repeat is safe.
    """
    for size in (1, 2, 3):
        if len(kept) >= 2 * size and kept[-size:] == kept[-2 * size : -size]:
            del kept[-size:]
            return


class _BlockParser:
    """Line-oriented block parser shared by Markdown and plain text."""

    def __init__(self, *, markdown: bool) -> None:
        self.markdown = markdown
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.prefix = ""
        self.hard_break = False
        self.list_indents: list[int] = []
        self.in_item = False

    def parse(self, text: str) -> list[str]:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
        if self.markdown:
            text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
            text = re.sub(r"<br\s*/?>", "\n\n", text, flags=re.I)
        lines = text.split("\n")
        index = 0
        while index < len(lines):
            index = self._line(lines, index)
        self._flush()
        return self.blocks

    def _line(self, lines: list[str], index: int) -> int:
        line = lines[index].rstrip("\n")
        stripped = line.strip()
        if not stripped:
            self._flush()
            self.in_item = False
            return index + 1
        if self.markdown and self._markdown_line(line, stripped):
            return index + 1
        indent = len(line) - len(line.lstrip(" "))
        if not self.markdown and _is_title_line(stripped):
            self._flush()
            self.blocks.append(stripped)
            return index + 1
        if not self.markdown and self.in_item and len(self.lines) == 1 and stripped[:1].isupper() \
                and is_title_words(self.lines[0]):
            self._flush()  # "3. Restrictions" on its own line heads the sentences below it
        marker = MARKER.match(stripped)
        if marker:
            self._start_item(indent, stripped, marker.group(0))
        else:
            self._continue(indent, stripped)
        self.hard_break = self.markdown and (line.endswith("  ") or line.endswith("\\"))
        return index + 1

    def _markdown_line(self, line: str, stripped: str) -> bool:
        if _FENCE.match(line):
            self._flush()
            return True
        if self.lines and _SETEXT_1.match(line):
            self._heading_from_paragraph("# ")
            return True
        if self.lines and _SETEXT_2.match(line) and not self.hard_break:
            self._heading_from_paragraph("## ")
            return True
        if _RULE.match(line):
            self._flush()
            return True
        heading = _ATX.match(line)
        if heading:
            self._flush()
            self.list_indents.clear()
            self.blocks.append(f"{heading.group(1)} {heading.group(2) or ''}")
            return True
        if stripped.startswith("|"):
            self._flush()
            if not _TABLE_RULE.match(stripped):
                self.blocks.append(table_row(split_table_row(stripped)))
            return True
        if stripped.startswith(">"):
            self._continue(0, stripped.lstrip("> ").strip())
            return bool(stripped.lstrip("> ").strip()) or True
        return False

    def _heading_from_paragraph(self, hashes: str) -> None:
        """A setext underline makes the open paragraph (even one read as an item) a heading."""
        self.lines[0] = self.prefix.strip() + " " + self.lines[0] if self.prefix.strip() else self.lines[0]
        self.prefix = hashes
        self.in_item = False
        self._flush()

    def _start_item(self, indent: int, stripped: str, marker: str) -> None:
        self._flush()
        level = self._level(indent) if self.markdown else 0
        rest = stripped[len(marker) :].strip()
        own = MARKER.match(rest) if _BULLET.match(marker) else None
        if own and not _BULLET.match(own.group(0)):
            # A bullet whose text has its own number ("- 1.1. Services Term") keeps the
            # number only, as the HTML of the same page does.
            marker, rest = own.group(0), rest[len(own.group(0)) :].strip()
        elif _BULLET.match(marker):
            marker = "-"
        self.prefix = "  " * level + marker + " "
        self.in_item = True
        self.lines = [rest] if rest else []
        if not rest:
            self.lines = [""]

    def _level(self, indent: int) -> int:
        while self.list_indents and self.list_indents[-1] > indent:
            self.list_indents.pop()
        if not self.list_indents or self.list_indents[-1] < indent:
            self.list_indents.append(indent)
        return len(self.list_indents) - 1

    def _continue(self, indent: int, stripped: str) -> None:
        if self.hard_break:
            self._flush()
        if not self.lines:
            if self.markdown and self.list_indents and indent > self.list_indents[0]:
                self.prefix = "  " * len([i for i in self.list_indents if i < indent])
            else:
                self.list_indents.clear()
        self.lines.append(stripped)

    def _flush(self) -> None:
        if self.lines:
            body = _join_lines(self.lines)
            if self.markdown:
                body = strip_markdown_inline(body)
            body = body.strip()
            if body:
                self.blocks.append(self.prefix + body)
        self.lines = []
        self.prefix = ""
        self.hard_break = False


def is_title_words(text: str) -> bool:
    """A short title ("Restrictions", "Use of the Materials"): at most six words, no closing punctuation, every
    word of four letters or more capitalised. A wrapped line of a sentence ("You may not use the") is not."""
    words = text.split()
    long_words = [word for word in words if len(word) >= 4]
    if not 0 < len(words) <= 6 or text.endswith((".", ":", ";", ",")) or not long_words:
        return False
    return all(word[:1].isupper() for word in long_words) and words[0][:1].isupper()


def _is_title_line(stripped: str) -> bool:
    """A short line in capitals is a title in plain text, never part of a wrapped paragraph."""
    letters = [char for char in stripped if char.isalpha()]
    return 8 <= len(letters) and len(stripped) <= 100 and all(char.isupper() for char in letters)


def _join_lines(lines: list[str]) -> str:
    """Join hard-wrapped lines; a word split by a line-end hyphen keeps the hyphen, not a space."""
    out = lines[0]
    for line in lines[1:]:
        if out.endswith("-") and len(out) > 1 and out[-2].isalnum():
            out += line
        else:
            out += " " + line
    return out


def split_table_row(row: str) -> list[str]:
    """'| a | b |' to its cells (escaped pipes kept)."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [strip_markdown_inline(cell).replace("\\|", "|") for cell in cells]


def table_row(cells: list[str]) -> str:
    """Cells to the one-line form every format shares: '| a | b |'."""
    return "| " + " | ".join(" ".join(cell.split()) for cell in cells) + " |"
