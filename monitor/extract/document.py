"""Raw bytes, format and selectors in, a normalised `Document` out (dispatch per format)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from lxml import etree

from monitor.errors import ExtractionError
from monitor.extract import Document
from monitor.extract.charset import decode
from monitor.extract.fingerprint import normalise_tree, tree_fingerprint
from monitor.extract.html import html_blocks, matched_roots, page_title, parse_html, remove_elements
from monitor.extract.locate import locate_terms, suggest_selector, tidy_block
from monitor.extract.pdf import pdf_text
from monitor.extract.text import join_blocks, normalise_markdown, normalise_plain_text
from monitor.extract.validity import (SHORT_PAGE_CHARACTERS, ascii_lower, error_page_reason, markup_blocked_reason,
                                     title_blocked_reason)

FORMATS = ("html", "markdown", "text", "pdf")
# Document.method of HTML captures.
SELECTORS = "selectors"
AUTOMATIC = "automatic"
_CONTENT_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
    "application/pdf": "pdf",
}
_MARKDOWN_HINT = re.compile(r"^(?:#{1,6} |\S.*\n(?:=+|-+)\s*$)|\]\(https?://", re.MULTILINE)


def extract_document(body: bytes, *, format: str | None, content_type: str | None,
                     select: Sequence[str] = (), remove: Sequence[str] = ()) -> Document:
    """Bytes of one capture to its Document; raise ExtractionError for blocked or unusable pages."""
    format = format or guess_format(body, content_type)
    if format not in FORMATS:
        raise ExtractionError("invalid", f"unknown format {format!r} (expected one of {', '.join(FORMATS)})")
    if format == "pdf":
        title, text = pdf_text(body)
        return _document(title, normalise_plain_text(text))
    markup, utf8 = decode(body, content_type, sniff_meta=format == "html")
    if format == "html":
        return extract_html(markup, utf8, select=select, remove=remove)
    text = normalise_markdown(markup) if format == "markdown" else normalise_plain_text(markup)
    return _document("", text)


def extract_html(markup: str, utf8: bytes | None = None, *, select: Sequence[str] = (),
                 remove: Sequence[str] = ()) -> Document:
    """Decoded HTML to its Document: selected, cleaned, checked for challenges and login walls.

    `utf8` is `markup` encoded in UTF-8 when the caller has it (the body of a UTF-8 page).
    """
    root = _normalised_tree(markup, utf8, selectors=bool(select or remove))
    fingerprint: str | None = tree_fingerprint(root, select, remove)  # before the steps below change the tree
    title = page_title(root)
    reason = title_blocked_reason(title)  # the rest is judged once the terms are known absent
    if reason:
        raise ExtractionError("blocked", reason)
    roots = _selected(root, select)
    if roots is None:  # no selectors, or none matched: a page that is no error page is searched for its terms
        if select:
            _raise_if_blocked(root, title, markup, utf8, error_page=True)
            fingerprint = None  # judged from its markup too
        roots, method = [locate_terms(root)], AUTOMATIC
        tidy_block(roots[0])
    else:
        method = SELECTORS
    remove_elements(roots, remove)
    text = join_blocks(html_blocks(roots))
    if len(text) < SHORT_PAGE_CHARACTERS:
        _raise_if_blocked(root, title, markup, utf8)
        fingerprint = None
    return replace(_document(title, text, method), fingerprint=fingerprint)


def page_fingerprint(body: bytes, *, format: str | None, content_type: str | None, select: Sequence[str] = (),
                     remove: Sequence[str] = ()) -> str | None:
    """The fingerprint `extract_document` would give this body's Document, if it is an HTML page, found
    without extracting its text (monitor/extract/fingerprint.py)."""
    if (format or guess_format(body, content_type)) != "html":
        return None
    markup, utf8 = decode(body, content_type, sniff_meta=True)
    return tree_fingerprint(_normalised_tree(markup, utf8, selectors=bool(select or remove)), select, remove)


def _normalised_tree(markup: str, utf8: bytes | None, *, selectors: bool) -> etree._Element:
    root = parse_html(markup, utf8)
    normalise_tree(root, selectors=selectors)
    return root


def suggest_select(body: bytes, content_type: str | None) -> str:
    """A CSS selector, ready for a source's `select`, of the block automatic location finds in an HTML page."""
    markup, utf8 = decode(body, content_type, sniff_meta=True)
    root = parse_html(markup, utf8)
    return suggest_selector(root, locate_terms(root))


def _selected(root: etree._Element, select: Sequence[str]) -> list[etree._Element] | None:
    """The elements the selectors match; None when there are no selectors or they match nothing."""
    return (matched_roots(root, select) or None) if select else None


def _raise_if_blocked(root: etree._Element, title: str, markup: str, utf8: bytes | None, *,
                      error_page: bool = False) -> None:
    """Terms missing or short: is the whole page a challenge, a login wall or an error page?"""
    body = root.find("body")
    page_text = join_blocks(html_blocks([body if body is not None else root], keep_hidden=True))
    reason = markup_blocked_reason(title, page_text, ascii_lower(markup, utf8))
    if reason:
        raise ExtractionError("blocked", reason)
    reason = error_page_reason(title, page_text) if error_page else None
    if reason:
        raise ExtractionError("invalid", reason)


def _document(title: str, text: str, method: str = "") -> Document:
    """The title is the first top-level heading, else the page's <title>, else any heading."""
    lines = text.split("\n", 80)
    heading = next((line for line in lines if line.startswith("# ")), "")
    fallback = next((line for line in lines if line.startswith("#")), "")
    chosen = (heading or title or fallback).replace("\x00", "")
    return Document(title=chosen.lstrip("#").strip(), text=text, method=method)


def guess_format(body: bytes, content_type: str | None) -> str:
    """The format from the Content-Type, else from the first bytes of the body."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    head = body[:4096].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    lowered = head[:1024].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in lowered or b"<head" in lowered:
        return "html"
    if _MARKDOWN_HINT.search(head.decode("utf-8", "replace")):
        return "markdown"
    return "text"
