"""What an HTML page's text is made from, as one hash: a page served again with only what varies per response
changed (a CSRF token, a CSP nonce, a build id or timings in a script, a comment, a tracking id in a link)
has the fingerprint it had before, so its text is known without extracting it again.

The extraction reads a tree only after `normalise_tree` has blanked what no step of it reads: the text of
scripts and styles, comments' text, and every attribute but those of READ_ATTRIBUTES (a source's `select`
and `remove` selectors may read any attribute: with those, only the attributes of scripts, styles, metas
and links, `nonce` attributes and form fields' values go). Its text is then a function of the normalised
tree and of how it is read (the code's version, the source's `select` and `remove`), and so of the
fingerprint, with one exception the extraction reports itself: a page it also judged from its raw markup
(a short page, or one whose selectors matched nothing, is checked for challenge and login markers in its
scripts) gets no fingerprint (`Document.fingerprint` is None).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence

from lxml import etree

from monitor import __version__

# The attributes the extraction reads (monitor/extract/html.py and locate.py): an element's visibility, what
# marks it as navigation or a title, and how a list numbers its items.
READ_ATTRIBUTES = frozenset(("class", "id", "role", "style", "hidden", "aria-hidden", "type", "start"))
# Elements whose attributes and text carry per-response values and nothing the extraction reads.
_BLANKED = ("script", "style", "meta", "link")
_WITH_TEXT = frozenset(("script", "style"))
_PER_RESPONSE_ATTRIBUTES = etree.XPath("//*[@nonce] | //input[@value]")


def normalise_tree(root: etree._Element, *, selectors: bool = False) -> None:
    """Blank, in place, what no extraction step reads (`selectors`: the source's CSS selectors read the tree)."""
    for element in root.iter(*_BLANKED):
        element.attrib.clear()
        if element.tag in _WITH_TEXT:
            element.text = None
    for comment in root.iter(etree.Comment):
        comment.text = " "
    if selectors:
        for element in _PER_RESPONSE_ATTRIBUTES(root):
            element.attrib.pop("nonce", None)
            if element.tag == "input":
                element.attrib.pop("value", None)
        return
    for element in root.iter(etree.Element):
        attributes = element.attrib
        if attributes:
            for name in [name for name in attributes.keys() if name not in READ_ATTRIBUTES]:
                with contextlib.suppress(ValueError):  # a name lxml cannot look up (control characters) stays
                    del attributes[name]


def tree_fingerprint(root: etree._Element, select: Sequence[str] = (), remove: Sequence[str] = ()) -> str:
    """The SHA-256 of a normalised tree and of how its text is found in it."""
    digest = hashlib.sha256(f"{__version__}\0{list(select)}\0{list(remove)}\0".encode())
    digest.update(etree.tostring(root, encoding="utf-8"))
    return digest.hexdigest()


def fingerprint_key(fingerprint: str, text_sha256: str, checks: Sequence[str | None] = ()) -> str:
    """What a source row keeps: a page of this fingerprint gives the text of this hash, which passed these
    checks (the source's `expect` and `language`: changed, they judge the text again)."""
    return hashlib.sha256(f"{fingerprint}\0{text_sha256}\0{list(checks)}".encode()).hexdigest()
