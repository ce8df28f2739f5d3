"""A parsed HTML page in, the element that holds its terms out (when no selector says where they are).

The terms are the page's main run of prose: headings, numbered items and long paragraphs. Every element is
weighed by the characters of text it holds outside links (navigation, language pickers and tables of contents
are mostly link text) and outside boilerplate (navigation, footers, sidebars, banners, forms, cookie
notices, hidden elements, scripts). From <body> the finder steps down into the child that still holds most
of its parent's weight, never into a single list, table or paragraph, and stops where the next step would
lose the document's title (its <h1>, or on pages without one an element of title class): the smallest
element that holds nearly all the prose and its heading. Inside it, boilerplate is dropped and <span>s
styled as paragraphs become blocks. `suggest_selector` names that element with a CSS selector. The choice
depends on the page's structure and words only, so captures whose terms did not change give the same block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from monitor.extract.html import DROPPED_TAGS, _drop_tree, _hidden
from monitor.extract.html import compile_selectors

# Each step down keeps at least this share of the weight of the element it leaves. On the corpus' raw
# snapshots (bench/locate_quality.py) 0.5 to 0.95 give the same recall and stability: the title rule and
# the lists, tables and paragraphs never stepped into do most of the work; a lower share would let a long
# section be taken for the document, a higher one stop at wrappers that hold a sidebar of prose.
SHARE_PER_STEP = 0.75
# Never the terms, wherever they sit.
BOILERPLATE_TAGS = frozenset(("nav", "footer", "aside", "form", "menu", "label"))
# Text for screen readers only ("(opens in a new window)"), which sites add to links and drop again.
_SCREEN_READER_ONLY = re.compile(
    r"(?:^|\s)(?:sr-only|visually-?hidden|screen-reader-(?:text|only)|a11y-hidden)(?:\s|$)")
BOILERPLATE_ROLES = frozenset(("navigation", "contentinfo", "banner", "search", "complementary", "menu",
                               "menubar", "dialog", "alertdialog"))
HEADING_TAGS = frozenset(f"h{level}" for level in range(1, 7))
# A title this short is a logo or a label, this long a paragraph, not the document's title.
MIN_TITLE_CHARACTERS = 4
MAX_TITLE_CHARACTERS = 200
_TITLE_CLASS = re.compile(r"(?:^|[\s_-])(?:page-?|main-?|doc(?:ument)?-?)*title\b|(?:Page|Main|Doc)\w*Title",
                          re.IGNORECASE)
# One list, table or paragraph of the document is never the whole of it: the finder stops above them.
PARTS_OF_A_DOCUMENT = frozenset(("ol", "ul", "li", "table", "thead", "tbody", "tr", "td", "p", "dl", "dd",
                                 "blockquote", "pre"))


@dataclass
class _Weight:
    text: int  # characters of text outside links and boilerplate
    headings: int  # <h1> headings of a few words
    titles: int  # short elements with a title class ("PageMainTitle"), for pages without <h1>


def locate_terms(root: etree._Element) -> etree._Element:
    """The element of the page that holds its terms (<body> when no smaller one holds nearly all of it)."""
    body = root.find("body")
    node = body if body is not None else root
    weights: dict[etree._Element, _Weight] = {}
    _weigh(node, weights)
    while True:
        child = _heaviest_child(node, weights)
        if child is None or weights[child].text < SHARE_PER_STEP * weights[node].text:
            return node
        if _loses_title(weights[node], weights[child]):
            return node
        node = child


def _loses_title(node: _Weight, child: _Weight) -> bool:
    """Whether stepping down leaves the document's title behind: its <h1>, else an element of title class."""
    if node.headings:
        return not child.headings
    return bool(node.titles) and not child.titles


def tidy_block(root: etree._Element) -> None:
    """Remove navigation, footers, sidebars, banners and forms inside the located block, and make blocks of
    the <span>s that a page styles as paragraphs (siblings of a heading, with no text between them)."""
    doomed = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element is not root and _boilerplate(element):
            doomed.append(element)
        elif _spans_as_paragraphs(element):
            for child in element:
                if child.tag == "span":
                    child.tag = "div"
    for element in doomed:
        if element.getparent() is not None and not any(ancestor in doomed for ancestor in element.iterancestors()):
            _drop_tree(element)


def _spans_as_paragraphs(element: etree._Element) -> bool:
    """Children that are only headings and <span>s (empty markers aside), no text between them: the spans are
    the paragraphs."""
    tags = {child.tag for child in element if len(child) or (child.text and not child.text.isspace())}
    if "span" not in tags or not tags & HEADING_TAGS or tags - HEADING_TAGS - {"span"}:
        return False
    if element.text and not element.text.isspace():
        return False
    return all(not child.tail or child.tail.isspace() for child in element)


def _boilerplate(element: etree._Element) -> bool:
    tag = element.tag
    if tag in BOILERPLATE_TAGS:
        return True
    if tag == "header":  # a page's header is chrome; a document's header holds its title
        return element.find(".//h1") is None
    if (element.get("role") or "") in BOILERPLATE_ROLES:
        return True
    classes = element.get("class")
    if classes and "-" in classes and _SCREEN_READER_ONLY.search(classes):
        return True
    # Apps mark the whole page aria-hidden while a (cookie) dialog is open: aria-hidden hides nothing here.
    return _hidden(element, aria=False)


def _weigh(element: etree._Element, weights: dict[etree._Element, _Weight]) -> _Weight:
    """The weight of `element` (and, in `weights`, of every element under it)."""
    weight = _Weight(0, 0, 0)
    tag = element.tag
    if not isinstance(tag, str) or tag in DROPPED_TAGS or _boilerplate(element):
        weights[element] = weight
        return weight
    if tag != "a" and element.text:
        weight.text += len(element.text.strip())
    for child in element:
        if isinstance(child.tag, str):
            inner = _weigh(child, weights)
            weight.text += inner.text
            weight.headings += inner.headings
            weight.titles += inner.titles
        if child.tail:
            weight.text += len(child.tail.strip())
    if tag == "a":
        weight.text = 0
    if tag == "h1" and _title_sized(element):
        weight.headings += 1
    elif _title_class(element) and _title_sized(element):
        weight.titles += 1
    weights[element] = weight
    return weight


def _title_class(element: etree._Element) -> bool:
    marks = element.get("class")
    return bool(marks) and ("itle" in marks or "ITLE" in marks) and bool(_TITLE_CLASS.search(marks))


def _title_sized(element: etree._Element) -> bool:
    return MIN_TITLE_CHARACTERS <= len("".join(element.itertext()).strip()) <= MAX_TITLE_CHARACTERS


def _heaviest_child(node: etree._Element, weights: dict[etree._Element, _Weight]) -> etree._Element | None:
    children = [child for child in node if child in weights and child.tag not in PARTS_OF_A_DOCUMENT]
    return max(children, key=lambda child: weights[child].text, default=None)


# A class or id with a build hash ("LegalPageDetail_body__AK5Wr", "TermsService--AuymZXL9") keeps its stable
# part; one that is all hash ("x1n2onr6", ":r3:") is never used.
_HASHED = re.compile(r"^(?P<stable>[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z][A-Za-z0-9]*)*?)(?P<separator>__|--|_)"
                     r"[A-Za-z0-9_-]{5,}$")
_PLAIN_NAME = re.compile(r"^[A-Za-z][A-Za-z-]*[A-Za-z]$")
# Atomic CSS (one short generated class per declaration, as Meta's "xwnkcuf"): stable for no one.
_ATOMIC = re.compile(r"^x[a-z0-9]{5,8}$")
SEMANTIC_TAGS = ("main", "article", "section")


def suggest_selector(root: etree._Element, element: etree._Element) -> str:
    """A CSS selector that matches `element` alone in the page: an id, a role, a semantic tag or a data
    attribute first, then the shortest unique path of class names, last a path of positions."""
    for candidate in _own_selectors(element):
        if _selects_only(root, candidate, element):
            return candidate
    steps = [_position(element)]
    for ancestor in element.iterancestors():
        for outer in _own_selectors(ancestor):
            for inner in [*_own_selectors(element), " > ".join(reversed(steps))]:
                candidate = f"{outer} {inner}" if inner[0] in "#[." or inner in SEMANTIC_TAGS else f"{outer} > {inner}"
                if _selects_only(root, candidate, element):
                    return candidate
        if ancestor.tag == "body":
            break
        steps.append(_position(ancestor))
    return " > ".join(["body", *reversed(steps)])


def _own_selectors(element: etree._Element) -> list[str]:
    """Selectors naming `element` by its stable attributes, most stable first (unique or not)."""
    tag, selectors = element.tag, []
    ident = element.get("id") or ""
    if _PLAIN_NAME.match(ident):
        selectors.append(f"#{ident}")
    if element.get("role"):
        selectors.append(f'[role="{element.get("role")}"]')
    if tag in SEMANTIC_TAGS:
        selectors.append(tag)
    for name, value in element.items():
        if name.startswith("data-") and _PLAIN_NAME.match(value or "") and len(value) <= 60:
            selectors.append(f'[{name}="{value}"]')
    for position, token in enumerate((element.get("class") or "").split()):
        if (hashed := _HASHED.match(token)) and len(hashed.group("stable")) >= 4:
            selectors.append(f'[class*="{hashed.group("stable")}"]')
            if position == 0:  # "Content--x1" is not "QwenAI__Content--x2"
                selectors.append(f'{tag}[class^="{hashed.group("stable")}{hashed.group("separator")}"]')
        elif _PLAIN_NAME.match(token) and not _ATOMIC.match(token):
            selectors.append(f"{tag}.{token}")
    return selectors


def _selects_only(root: etree._Element, selector: str, element: etree._Element) -> bool:
    return compile_selectors((selector,))(root) == [element]


def _position(node: etree._Element) -> str:
    """`node` among its siblings: its tag, with its rank among those of that tag if it has any."""
    parent = node.getparent()
    same = [sibling for sibling in parent if sibling.tag == node.tag] if parent is not None else [node]
    return node.tag if len(same) == 1 else f"{node.tag}:nth-of-type({same.index(node) + 1})"
