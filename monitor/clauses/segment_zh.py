"""Chinese segmentation: a document with Chinese paragraphs in, `Segment`s out, as `segment.py` makes them.

Runs of paragraphs written mainly in Chinese are segmented here; the runs between them go to the English
segmenter unchanged. A Chinese clause is a sentence (ended by 。！？ or ；) or an enumerated item: 第一条,
一、, （一）, 1、 or 1., (1) or 1), (a), ①. Section paths follow the English segmenter's style, with
Chinese numerals as figures: "二、" is "2", its "（一）" is "2(1)", and that item's "1)" is "2(1)(1)".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from monitor.clauses.language import has_cjk, is_mainly_cjk
from monitor.clauses.segment import Segment, segment_document
from monitor.extract.text import strip_markdown_inline

# A block this short, without sentence punctuation, is a heading ("2. 许可授予", "第三条 限制").
HEADING_CHARACTERS = 40

_CJK_CHAR = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef“”‘’"
# Spaces between two Chinese characters are where a hard-wrapped line was joined ("包括优 化器状态").
_WRAP_SPACE = re.compile(rf"(?<=[{_CJK_CHAR}{_CJK_PUNCT}])\s+(?=[{_CJK_CHAR}{_CJK_PUNCT}])")
_NUMERALS = "〇零一二三四五六七八九十百"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

# Enumeration markers at the start of a block, from the outermost level to the innermost:
# (level, pattern, how the path joins the label: "." for 2.1, "(" for 2(1)).
_MARKERS = (
    (1, re.compile(rf"^第([{_NUMERALS}\d]+)[章编部]\s*"), "."),
    (2, re.compile(rf"^第([{_NUMERALS}\d]+)[节條条款]\s*"), "."),
    (3, re.compile(rf"^([{_NUMERALS}]+)[、.．]\s*"), "."),
    (4, re.compile(rf"^[（(]([{_NUMERALS}]+)[）)]\s*"), "("),
    (5, re.compile(r"^(\d{1,3}(?:\.\d{1,3})+)(?:[、．.]\s*|\s+)|^(\d{1,3})(?:[、．]|\.(?!\d))\s*"), "."),
    (6, re.compile(r"^[（(]?(\d{1,3})[）)]\s*"), "("),
    (7, re.compile(r"^[（(]?([A-Za-z])[）)]\s*"), "("),
    (8, re.compile(rf"^([{_CIRCLED}])\s*"), "("),
)
_BULLET = re.compile(r"^[-*•·▪◦]\s+")
_ATX = re.compile(r"^#{1,6}\s+")
# A sentence ends at 。！？ or ；, with the closing quotes and brackets that follow it.
_SENTENCE_END = re.compile(r"[。！？；;][”’」』）)]*")
_SENTENCE_PUNCTUATION = re.compile(r"[。！？；，;,]")
_OPENING, _CLOSING = "“‘「『（(《", "”’」』）)》"
# Markers inside a sentence that open the items of an inline list ("…的方式 a) 使用…; 或 b) 创建…").
_INLINE_MARKER = re.compile(rf"(?<=[\s：:；;，,、。{_CJK_CHAR}])(?:[（(]([{_NUMERALS}\d]{{1,3}}|[A-Za-z])[）)]|"
                            rf"([A-Za-z\d])[）)]|([{_CIRCLED}]))")
# A conjunction left at the end of an inline item, before the next one's marker ("…分发Yi系列模型; 或").
_TRAILING_CONJUNCTION = re.compile(r"\s*(?:或者|以及|或|和|及|并且)$")


def has_chinese(text: str) -> bool:
    """Whether any paragraph of the document is written mainly in Chinese."""
    return has_cjk(text) and any(is_mainly_cjk(paragraph) for paragraph in _paragraphs(text))


def segment_mixed(text: str) -> list[Segment]:
    """Every clause candidate of a document holding Chinese paragraphs, in order."""
    segments: list[Segment] = []
    for chinese, paragraphs in _runs(_paragraphs(text)):
        if chinese:
            segments.extend(_ChineseSections().segment(paragraphs))
        else:
            segments.extend(segment_document("\n\n".join(paragraphs), chinese=False))
    return segments


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n[ \t\u3000]*\n", text.replace("\r\n", "\n")) if p.strip()]


def _runs(paragraphs: list[str]) -> list[tuple[bool, list[str]]]:
    """Consecutive paragraphs of one kind (Chinese or not); a paragraph without letters joins the run it is in."""
    runs: list[tuple[bool, list[str]]] = []
    for paragraph in paragraphs:
        has_letters = any(character.isalpha() for character in paragraph)
        chinese = is_mainly_cjk(paragraph) if has_letters or not runs else runs[-1][0]
        if runs and runs[-1][0] == chinese:
            runs[-1][1].append(paragraph)
        else:
            runs.append((chinese, [paragraph]))
    return runs


def clean_chinese(text: str) -> str:
    """Markdown inline syntax to words, one space between words, none inside Chinese text."""
    text = " ".join(strip_markdown_inline(text).replace("\u3000", " ").split())
    return _WRAP_SPACE.sub("", text)


@dataclass(frozen=True)
class _Marker:
    level: int
    label: str  # as written, e.g. "（一）"
    key: str  # as the path shows it, e.g. "1"
    join: str


def split_marker(text: str) -> tuple[_Marker | None, str]:
    """(the enumeration marker opening a block, the rest of it); (None, text) when it opens with none."""
    for level, pattern, join in _MARKERS:
        match = pattern.match(text)
        if match and match.end() < len(text):
            key = _figure(next(group for group in match.groups() if group))
            return _Marker(level + key.count("."), match.group(0).strip(), key, join), text[match.end():]
    return None, text


@functools.lru_cache(maxsize=1024)
def _figure(numeral: str) -> str:
    """A Chinese or circled numeral as figures ("十二" -> "12", "③" -> "3"); other labels unchanged."""
    if numeral in _CIRCLED:
        return str(_CIRCLED.index(numeral) + 1)
    if not all(character in _NUMERALS for character in numeral):
        return numeral
    digits = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    total, current = 0, 0
    for character in numeral:
        if character in digits:
            current = digits[character]
        else:  # 十 or 百
            total += (current or 1) * (10 if character == "十" else 100)
            current = 0
    return str(total + current)


def _join(parent: str, marker: _Marker) -> str:
    if marker.join == "." and "." in marker.key:  # "2.1" numbers itself in full
        return marker.key
    if not parent:
        return marker.key if marker.join == "." else f"({marker.key})"
    return f"{parent}.{marker.key}" if marker.join == "." and not parent.endswith(")") else f"{parent}({marker.key})"


def _is_heading(marker: _Marker | None, body: str) -> bool:
    if marker is not None and marker.level > 5:
        return False
    return len(body) <= HEADING_CHARACTERS and not _SENTENCE_PUNCTUATION.search(body) and not body.endswith(("：", ":"))


@dataclass
class _ChineseSections:
    """Where a run of Chinese paragraphs is: the nearest heading, the open enumeration levels, a list lead-in."""

    heading: str = ""
    stack: list[tuple[int, str]] = field(default_factory=list)  # (level, path)
    lead: str = ""
    bullets: int = 0

    def segment(self, paragraphs: list[str]) -> list[Segment]:
        segments: list[Segment] = []
        for paragraph in paragraphs:
            for block in _blocks(paragraph):
                segments.extend(self._block(block))
        return segments

    def _block(self, raw: str) -> list[Segment]:
        heading_marked = bool(_ATX.match(raw))
        text = clean_chinese(_ATX.sub("", raw))
        bullet = _BULLET.match(text)
        if bullet:
            text = text[bullet.end():]
        marker, body = split_marker(text)
        if heading_marked or (not bullet and _is_heading(marker, body)):
            return [self._heading(marker, body)]
        path = self._item_path(marker) if (marker or bullet) else self._path()
        context = self.lead if (marker or bullet) else ""
        if bullet and not marker:
            self.bullets += 1
            path = f"{path} > bullet {self.bullets}" if path else f"bullet {self.bullets}"
        kind = "item" if (marker or bullet) else "paragraph"
        label_end = len(text) - len(body)
        segments = _block_segments(text, label_end, path, self.heading, marker.label if marker else "", context, kind)
        if text.endswith(("：", ":")):
            self.lead = _last_sentence(text)
        elif not (marker or bullet):
            self.lead = ""
        return segments

    def _heading(self, marker: _Marker | None, body: str) -> Segment:
        self.heading, self.lead, self.bullets = body, "", 0
        if marker is None:
            self.stack = []
        else:
            if marker.level >= 5:  # a numbered heading ("2. 许可授予") is a section, as "二、" is
                marker = replace(marker, level=3 + marker.key.count("."))
            self._item_path(marker)
        return Segment(body, self._path(), body, marker.label if marker else "", "", "heading")

    def _item_path(self, marker: _Marker | None) -> str:
        if marker is None:
            return self._path()
        while self.stack and self.stack[-1][0] >= marker.level:
            self.stack.pop()
        path = _join(self._path(), marker)
        self.stack.append((marker.level, path))
        return path

    def _path(self) -> str:
        return self.stack[-1][1] if self.stack else ""


def _blocks(paragraph: str) -> list[str]:
    """The blocks of a paragraph: a line that opens with a marker starts one; other lines continue it."""
    blocks: list[str] = []
    for line in paragraph.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        marker, _ = split_marker(clean_chinese(_BULLET.sub("", stripped)))
        starts = marker is not None or _BULLET.match(stripped) or _ATX.match(stripped)
        if blocks and not starts and not _ends_block(blocks[-1]):
            blocks[-1] = f"{blocks[-1]}\n{stripped}"
        else:
            blocks.append(stripped)
    return blocks


def _ends_block(block: str) -> bool:
    """A heading line ("2. 许可授予") ends its block: the next line is its first sentence."""
    marker, body = split_marker(clean_chinese(block))
    return bool(_ATX.match(block)) or (marker is not None and "\n" not in block and _is_heading(marker, body))


def split_chinese_sentences(text: str) -> list[str]:
    """Sentences of a Chinese block: ended by 。！？ or ；, never inside quotes or brackets."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.end()]
        if _depth(candidate) > 0:
            continue
        _add_sentence(sentences, candidate.strip())
        start = match.end()
    _add_sentence(sentences, text[start:].strip())
    return sentences


def _add_sentence(sentences: list[str], sentence: str) -> None:
    """Punctuation alone ("。" after a quotation that ends with its own "。") belongs to the sentence before."""
    if sentences and not any(character.isalnum() for character in sentence):
        sentences[-1] += sentence
    elif sentence:
        sentences.append(sentence)


def _depth(text: str) -> int:
    return sum(text.count(c) for c in _OPENING) - sum(text.count(c) for c in _CLOSING)


def _last_sentence(text: str) -> str:
    sentences = split_chinese_sentences(text)
    return sentences[-1] if sentences else text


def _block_segments(text: str, label_end: int, path: str, heading: str, label: str, context: str,
                    kind: str) -> list[Segment]:
    """The clauses of a block: its sentences (its label on the first), and the items of an inline list
    ("…的方式 a) 使用…; 或 b) 创建…") each as a clause whose lead-in is what comes before the list."""
    lead, items = split_inline_items(text, label_end)
    if not items:
        return _sentences(text, path, heading, label, context, kind)
    out = _sentences(lead, path, heading, label, context, "sentence") if lead else []
    item_context = _last_sentence(lead) if lead else context
    for item_label, key, item_text in items:
        item_path = _join(path, _Marker(0, item_label, key, "("))
        out.extend(_sentences(item_text, item_path, heading, item_label, item_context, "inline"))
    return out


def _sentences(text: str, path: str, heading: str, label: str, context: str, kind: str) -> list[Segment]:
    sentences = split_chinese_sentences(text)
    sentence_kind = kind if len(sentences) == 1 or kind == "inline" else "sentence"
    return [Segment(sentence, path, heading, label if number == 0 else "", context, sentence_kind)
            for number, sentence in enumerate(sentences)]


def split_inline_items(text: str, start: int = 0) -> tuple[str, list[tuple[str, str, str]]]:
    """(lead-in, [(label, path key, item text)]) of a block holding an inline list, its markers looked for
    from `start` on (after the block's own label); without a list: ("", [])."""
    markers = [(m.start(), m.group(0), _figure(next(g for g in m.groups() if g)))
               for m in _INLINE_MARKER.finditer(text, start)]
    sequence = _first_sequence(markers)
    if len(sequence) < 2:
        return "", []
    lead = text[:sequence[0][0]].strip()
    items = []
    for number, (position, label, key) in enumerate(sequence):
        end = sequence[number + 1][0] if number + 1 < len(sequence) else len(text)
        items.append((label, key, _TRAILING_CONJUNCTION.sub("", text[position:end].strip())))
    return lead, items


def _first_sequence(markers: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The markers that count on from the first one (a, b, c or 1, 2, 3), others ignored."""
    if not markers:
        return []
    sequence = [markers[0]]
    for marker in markers[1:]:
        if _follows(sequence[-1][2], marker[2]):
            sequence.append(marker)
    return sequence if sequence[0][2] in ("1", "a", "A") else []


def _follows(previous: str, key: str) -> bool:
    if previous.isdigit() and key.isdigit():
        return int(key) == int(previous) + 1
    return len(previous) == len(key) == 1 and ord(key) == ord(previous) + 1
