"""Decoding bodies whose charset is declared wrong or not at all (monitor/extract/charset.py), on the bytes of
a real page: the Claude.ai commercial terms of the snapshot corpus (208 non-ASCII characters, every one of them
in windows-1252: curly quotes, dashes, accented letters), re-encoded as a misconfigured server would send it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.extract import extract_document
from monitor.extract.charset import decode

PAGE = Path("genai-eu-snapshots") / "Claude.ai" / "Commercial Terms" / "2025-11-11T15-22-52Z.html"
_META = re.compile(r"<meta[^>]*charset[^>]*>", re.IGNORECASE)


@pytest.fixture(scope="module")
def page(corpus: Path) -> str:
    """The page's markup with its own charset declaration taken out."""
    return _META.sub("", (corpus / PAGE).read_text(encoding="utf-8"))


def text_of(body: bytes, content_type: str | None) -> str:
    return extract_document(body, format="html", content_type=content_type).text


def test_the_page_is_what_the_tests_need(page: str) -> None:
    curly = {"\u2019", "\u201c", "\u201d", "\u2014", "\u2013"}
    assert curly & set(text_of(page.encode("utf-8"), None))
    assert page.encode("cp1252") != page.encode("utf-8")


def test_windows_1252_labelled_latin_1_reads_as_windows_1252(page: str) -> None:
    """Browsers read a latin-1 label as windows-1252 (WHATWG); read as latin-1, ’ “ ” – would be C1 controls."""
    expected = text_of(page.encode("utf-8"), None)
    body = page.encode("cp1252")
    assert text_of(body, "text/html; charset=ISO-8859-1") == expected
    labelled_in_markup = page.replace("<head>", '<head><meta charset="iso-8859-1">', 1).encode("cp1252")
    assert text_of(labelled_in_markup, "text/html") == expected


def test_windows_1252_without_any_charset(page: str) -> None:
    expected = text_of(page.encode("utf-8"), None)
    text = text_of(page.encode("cp1252"), "text/html")
    assert "\ufffd" not in text
    assert text == expected


def test_windows_1252_quotes_pasted_into_a_utf8_page(page: str) -> None:
    """UTF-8 everywhere except a paragraph pasted from a Windows editor (UnicodeDammit.detwingle)."""
    pasted = "<p>Customer\u2019s \u201cOutputs\u201d \u2013 as is</p>"
    body = page.encode("utf-8").replace(b"</body>", pasted.encode("cp1252") + b"</body>", 1)
    text, _ = decode(body, "text/html; charset=utf-8", sniff_meta=True)
    assert pasted in text
    assert text.replace(pasted, "") == page


def test_a_stray_byte_does_not_garble_a_utf8_page(page: str) -> None:
    body = page.encode("utf-8").replace(b"</body>", b"<p>caf\xe9</p></body>", 1)
    text, utf8 = decode(body, "text/html; charset=utf-8", sniff_meta=True)
    assert utf8 is None
    assert text.count("\ufffd") == 1
    assert text.replace("caf\ufffd", "") == page.replace("</body>", "<p></p></body>", 1)


def test_utf8_labelled_latin_1_reads_as_utf8(page: str) -> None:
    body = page.encode("utf-8")
    text, utf8 = decode(body, "text/html; charset=iso-8859-1", sniff_meta=True)
    assert text == page and utf8 is body


def test_the_utf8_fast_path_hands_the_bytes_on() -> None:
    body = "<p>Société \u2019</p>".encode("utf-8")
    assert decode(body, "text/html; charset=utf-8", sniff_meta=True) == ("<p>Société \u2019</p>", body)
    assert decode(body, None, sniff_meta=True)[1] is body


def test_other_declared_charsets_are_kept() -> None:
    russian = "<p>Условия использования</p>"
    assert decode(russian.encode("cp1251"), "text/html; charset=windows-1251", sniff_meta=True)[0] == russian
    japanese = "<p>利用規約</p>"
    assert decode(japanese.encode("shift_jis"), None, sniff_meta=False)[0] != japanese  # nothing says so
    assert decode(japanese.encode("shift_jis"), "text/html; charset=shift_jis", sniff_meta=True)[0] == japanese
    # a wrong label on a UTF-8 page
    assert decode(japanese.encode("utf-8"), "text/html; charset=shift_jis", sniff_meta=True)[0] == japanese
