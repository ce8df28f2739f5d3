"""HTML bytes and CSS selectors in, the title and the normalised blocks of the selected terms out."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from html.parser import HTMLParser

from cssselect import HTMLTranslator, SelectorError
from lxml import etree

from monitor.errors import ExtractionError
from monitor.extract.text import MARKER, table_row

# Never terms text: code, media, widgets and form controls.
DROPPED_TAGS = frozenset(
    "script style noscript template svg iframe object embed canvas video audio picture img"
    " button input select textarea option optgroup datalist output dialog head".split()
)
INLINE_TAGS = frozenset(
    "a abbr b bdi bdo cite code data del dfn em font i ins kbd label mark q rp rt ruby s samp"
    " small span strike strong sub sup time tt u var wbr nobr".split()
)
HEADINGS = {f"h{level}": level for level in range(1, 7)}
LISTS = frozenset(("ul", "ol", "menu"))
# Ids and classes of consent managers; dropped wherever the selection reaches them.
_COOKIE_CONTAINER = re.compile(
    r"onetrust|cookie-?(?:banner|consent|notice|bar|law)|cookieconsent|cookiebot|truste-|"
    r"\bcc-(?:banner|window)\b|gdpr-(?:banner|consent)|consent-(?:banner|manager)",
    re.IGNORECASE,
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
# A collapsed accordion or tab panel hides part of the document until the reader opens it: still its text.
_DISCLOSURE_ROLES = frozenset(("tabpanel", "region"))
_DISCLOSURE_MARKS = re.compile(r"accordion|collaps|tab-?pane|tab-?panel|expandable|disclosure", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
# lxml.html's parser without its element classes: they cost a Python call for each element
# the walk touches, and nothing here needs their methods.
_PARSER = etree.HTMLParser()
_UTF8_PARSER = etree.HTMLParser(encoding="utf-8")
_STRING = etree.XPath("string()", smart_strings=False)
# libxml2 stops at the 256th level of nesting and drops the rest of the page (a page of 100,000 nested
# <div>s kept only its title). Such a page is read again by the standard library's tokenizer, which has
# no limit, and what lies deeper than this is flattened into its ancestor at this depth: the walk over the
# tree recurses once or twice per level, well within Python's recursion limit here.
MAX_DEPTH = 200
VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# What lxml refuses in element names and text (XML's rules).
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@functools.lru_cache(maxsize=512)
def compile_selectors(selectors: tuple[str, ...]) -> etree.XPath:
    """CSS selectors to one XPath whose results are their union in document order."""
    translator = HTMLTranslator()
    try:
        paths = [translator.css_to_xpath(selector) for selector in selectors]
    except SelectorError as error:
        raise ExtractionError("invalid", f"bad CSS selector in {list(selectors)}: {error}") from None
    return etree.XPath(" | ".join(paths))


def parse_html(markup: str, utf8: bytes | None = None) -> etree._Element:
    """Markup (already decoded) to an lxml tree; an empty page gives an empty <html>.

    `utf8` is `markup` encoded in UTF-8, if at hand: libxml2 reads it without converting the text.
    """
    declaration = _XML_DECLARATION.match(markup)
    if declaration:
        markup, utf8 = markup[declaration.end() :], None
    if not markup.strip():
        markup, utf8 = "<html><body></body></html>", None
    parser = _PARSER if utf8 is None else _UTF8_PARSER
    root = etree.fromstring(markup if utf8 is None else utf8, parser)
    if root is None:
        raise etree.ParserError("Document is empty")
    if any("Excessive depth" in error.message for error in parser.error_log):
        return parse_deep_html(markup)
    return root


def parse_deep_html(markup: str) -> etree._Element:
    """Markup nested deeper than libxml2 reads to an lxml tree at most MAX_DEPTH deep (the rest flattened)."""
    builder = _FlatteningBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root()


class _FlatteningBuilder(HTMLParser):
    """Tokens of the standard library's HTML tokenizer to an lxml tree: <html> at the root, void elements
    closed at once, an end tag closing the elements opened since its start tag, nothing deeper than
    MAX_DEPTH (a start tag there opens nothing, and its end tag closes nothing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tree = etree.TreeBuilder()
        self.tree.start("html", {})
        self.open: list[str] = ["html"]
        self.flattened: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html" or not _XML_NAME.match(tag):
            return
        attributes = {name: _xml_text(value or "") for name, value in attrs if _XML_NAME.match(name)}
        if tag in VOID_TAGS:
            self.tree.start(tag, attributes)
            self.tree.end(tag)
        elif len(self.open) >= MAX_DEPTH:
            self.flattened[tag] = self.flattened.get(tag, 0) + 1
        else:
            self.tree.start(tag, attributes)
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.flattened.get(tag):
            self.flattened[tag] -= 1
        elif tag != "html" and tag in self.open:
            while self.open[-1] != tag:
                self.tree.end(self.open.pop())
            self.tree.end(self.open.pop())

    def handle_data(self, data: str) -> None:
        self.tree.data(_xml_text(data))

    def root(self) -> etree._Element:
        while self.open:
            self.tree.end(self.open.pop())
        return self.tree.close()


def _xml_text(text: str) -> str:
    return _NOT_XML_TEXT.sub("", text) if _NOT_XML_TEXT.search(text) else text


def page_title(root: etree._Element) -> str:
    title = root.find(".//title")
    return " ".join((_STRING(title) if title is not None else "").split())


def select_roots(root: etree._Element, select: Sequence[str]) -> list[etree._Element]:
    """Elements matching any selector, in document order, without those nested in another match."""
    if not select:
        body = root.find("body")
        return [body if body is not None else root]
    chosen = matched_roots(root, select)
    if not chosen:
        raise ExtractionError("invalid", selector_drift_reason(select))
    return chosen


def selector_drift_reason(select: Sequence[str]) -> str:
    """What to tell when a source's selectors matched nothing."""
    return f"selector '{', '.join(select)}' matched nothing"


def matched_roots(root: etree._Element, select: Sequence[str]) -> list[etree._Element]:
    """Elements matching any selector, in document order, without those nested in another match (maybe none)."""
    matches = compile_selectors(tuple(select))(root)
    chosen: list[etree._Element] = []
    seen: set[etree._Element] = set()
    for element in matches:
        if not isinstance(element, etree._Element) or not isinstance(element.tag, str):
            continue
        if any(ancestor in seen for ancestor in element.iterancestors()):
            continue
        seen.add(element)
        chosen.append(element)
    return chosen


def remove_elements(roots: list[etree._Element], remove: Sequence[str]) -> None:
    """Drop the elements the `remove` selectors match inside the selected roots (tails kept)."""
    if not remove:
        return
    path = compile_selectors(tuple(remove))
    for root in roots:
        for element in path(root):
            if element is root:
                continue
            if element.getparent() is not None:
                _drop_tree(element)


def _drop_tree(element: etree._Element) -> None:
    """Remove `element` and its subtree, its tail joined to what precedes it (lxml.html's drop_tree)."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + element.tail
        else:
            previous.tail = (previous.tail or "") + element.tail
    parent.remove(element)


def html_blocks(roots: list[etree._Element], *, keep_hidden: bool = False) -> list[str]:
    """Selected elements to blocks: 'indent + marker + text' strings, not yet cleaned (nor collapsed).

    `keep_hidden` keeps hidden elements: some apps mark the whole page aria-hidden while a
    dialog is open, and an error message there still tells why the terms are missing.
    """
    walker = _BlockWalker(keep_hidden=keep_hidden)
    for root in roots:
        walker.element(root)
        walker.flush()
    return walker.blocks


def _hidden(element: etree._Element, *, aria: bool = True) -> bool:
    """Hidden by its attributes (unless it is a collapsed panel of the document), or a consent manager's
    container; `aria`: aria-hidden counts as hidden."""
    if not element.keys():  # most elements have no attributes
        return False
    get = element.get
    style = get("style")
    if (get("hidden") is not None or (aria and get("aria-hidden") == "true")
            or (style and "none" in style and _HIDDEN_STYLE.search(style))) and not _disclosure_panel(element):
        return True
    marks = (get("id") or "") + " " + (get("class") or "")
    return len(marks) > 1 and ("ookie" in marks or "onsent" in marks or "rust" in marks) and bool(
        _COOKIE_CONTAINER.search(marks)
    )


def _disclosure_panel(element: etree._Element) -> bool:
    """A collapsed accordion section or tab panel, which the reader opens to read: `hidden="until-found"`,
    role tabpanel or region, or a class or id that says so."""
    get = element.get
    if get("hidden") == "until-found" or (get("role") or "") in _DISCLOSURE_ROLES:
        return True
    marks = (get("id") or "") + " " + (get("class") or "")
    return len(marks) > 1 and _DISCLOSURE_MARKS.search(marks) is not None


class _BlockWalker:
    """Depth-first walk emitting one block per paragraph, heading, list item or table row."""

    def __init__(self, *, keep_hidden: bool = False) -> None:
        self.keep_hidden = keep_hidden
        self.blocks: list[str] = []
        self.parts: list[str] = []  # text of the open block; cleared, never replaced
        self.prefix = ""
        self.marker = ""
        self.depth = -1  # list nesting level; -1 outside lists

    def flush(self) -> None:
        if not self.parts:
            return
        # Inner whitespace runs are left to join_blocks, which collapses every block anyway.
        text = "".join(self.parts).strip()
        self.parts.clear()
        if not text:
            return
        if self.marker:
            own = MARKER.match(text)
            # An item that carries its own number or letter keeps it, in <ol> and <ul> alike.
            if own is None:
                text = self.marker + text
            elif own.group(0) in "-•*+·▪◦‣":
                text = "- " + text[1:].lstrip()
            self.marker = ""
            # Later paragraphs of the same item are continuation blocks, one level deeper.
            self.blocks.append(self.prefix + text)
            self.prefix += "  "
            return
        self.blocks.append(self.prefix + text)

    def element(self, element: etree._Element) -> None:
        tag = element.tag  # lxml's HTML parser gives lower-case tags
        if not isinstance(tag, str):  # comments and processing instructions
            return
        if tag in DROPPED_TAGS or (not self.keep_hidden and _hidden(element)):
            return
        if tag in INLINE_TAGS:
            self.children(element)
        elif tag == "br":
            self.flush()
        elif tag in HEADINGS:
            self.heading(element, HEADINGS[tag])
        elif tag in LISTS:
            self.list(element, ordered=tag == "ol")
        elif tag == "table":
            self.table(element)
        else:
            self.flush()
            self.children(element)
            self.flush()

    def children(self, element: etree._Element) -> None:
        parts = self.parts
        # Whitespace before the first text of a block would be dropped anyway; leaving it out
        # spares a flush for each line break between block elements.
        if (text := element.text) and (parts or not text.isspace()):
            parts.append(text)
        for child in element:
            self.element(child)
            if (tail := child.tail) and (parts or not tail.isspace()):
                parts.append(tail)

    def heading(self, element: etree._Element, level: int) -> None:
        self.flush()
        saved = self.prefix, self.marker
        self.prefix, self.marker = self.prefix + "#" * level + " ", ""
        self.children(element)
        self.flush()
        self.prefix, self.marker = saved

    def list(self, element: etree._Element, *, ordered: bool) -> None:
        self.flush()
        saved = self.prefix, self.depth
        self.depth += 1
        number = _start(element) if ordered else 0
        style = (element.get("type") or "1") if ordered else ""
        for child in element:
            if child.tag == "li" and (self.keep_hidden or not _hidden(child)):
                self.prefix = "  " * self.depth
                self.marker = f"{_ordinal(number, style)}. " if ordered else "- "
                self.children(child)
                self.flush()
                number += 1
            elif isinstance(child.tag, str):
                self.prefix = "  " * self.depth
                self.element(child)
                self.flush()
        self.prefix, self.depth = saved
        self.marker = ""

    def table(self, element: etree._Element) -> None:
        self.flush()
        for row in element.iter("tr"):
            cells = []
            for cell in row:
                if cell.tag in ("td", "th"):
                    cells.append(_cell_text(cell))
            if any(cells):
                self.blocks.append(self.prefix + table_row(cells))


def _cell_text(cell: etree._Element) -> str:
    walker = _BlockWalker()
    walker.children(cell)
    walker.flush()
    return " ".join(walker.blocks)


def _start(element: etree._Element) -> int:
    try:
        return int(element.get("start") or 1)
    except ValueError:
        return 1


def _ordinal(number: int, style: str) -> str:
    if style in ("a", "A"):
        letters = ""
        while number > 0:
            number, rest = divmod(number - 1, 26)
            letters = chr(ord("a") + rest) + letters
        return letters.upper() if style == "A" else letters
    if style in ("i", "I"):
        roman = _roman(number)
        return roman.upper() if style == "I" else roman
    return str(number)


def _roman(number: int) -> str:
    numerals = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for value, letters in numerals:
        while number >= value:
            out += letters
            number -= value
    return out
