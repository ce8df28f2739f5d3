"""Bytes of a body and its declared charset in, text out, also when the declaration is wrong or missing.

Valid UTF-8 is read as UTF-8 (the fast path: one strict decode). Otherwise the usual real-world
mistakes are repaired the way browsers do (the WHATWG Encoding Standard): a `latin-1` or `ascii` label
means windows-1252; windows-1252 quotes pasted into a UTF-8 page are turned into UTF-8 by
bs4's `UnicodeDammit.detwingle`; a Western page with no charset at all is windows-1252. Deterministic on
purpose: no statistical guessing, whose answer would change with the detector installed, and with it
the text, and with the text a spurious new version.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", re.IGNORECASE)
# Labels that browsers read as windows-1252 or UTF-8 (codecs' names for them)
_WESTERN = {"ascii", "iso8859-1", "cp1252", "utf-8"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode(body: bytes, content_type: str | None, *, sniff_meta: bool) -> tuple[str, bytes | None]:
    """Bytes to text: BOM, then the Content-Type charset, then <meta charset> (when `sniff_meta`).

    Also returns the text's UTF-8 encoding when it is at hand (`body` itself when it is valid UTF-8),
    so that the text need not be encoded again to be parsed and scanned.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, "replace"), None
    declared = declared_charset(body, content_type, sniff_meta=sniff_meta)
    if declared is None or declared in _WESTERN:
        try:
            return body.decode("utf-8"), body
        except UnicodeDecodeError:
            return _western(body)
    try:
        return body.decode(declared), None
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("utf-8"), body  # declared wrong: the page is UTF-8
    except UnicodeDecodeError:
        return body.decode(declared, "replace"), None


def declared_charset(body: bytes, content_type: str | None, *, sniff_meta: bool) -> str | None:
    """The codec name the Content-Type header (else the page's <meta>) declares; None if none or unknown."""
    found = _HEADER_CHARSET.search(content_type or "")
    label = found.group(1) if found else None
    if label is None and sniff_meta:
        meta = _META_CHARSET.search(body[:4096])
        label = meta.group(1).decode("ascii") if meta else None
    try:
        return codecs.lookup(label).name if label else None
    except LookupError:
        return None


def _western(body: bytes) -> tuple[str, bytes | None]:
    """Not valid UTF-8, and labelled UTF-8, latin-1, windows-1252 or nothing at all."""
    # only a body that mixes encodings needs bs4
    from bs4 import UnicodeDammit

    repaired = UnicodeDammit.detwingle(body)
    try:
        return repaired.decode("utf-8"), repaired
    except UnicodeDecodeError:
        pass
    as_utf8 = repaired.decode("utf-8", "replace")
    broken = as_utf8.count("\ufffd")
    if sum(1 for char in as_utf8 if char > "\x7f") > 2 * broken:
        return as_utf8, None  # UTF-8 with a few stray bytes: a windows-1252 reading would garble the rest
    # windows-1252 leaves five bytes undefined; latin-1 (their C1 controls) reads those
    dammit = UnicodeDammit(body, known_definite_encodings=["windows-1252", "iso-8859-1"])
    return dammit.unicode_markup, None
