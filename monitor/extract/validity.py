"""A page (raw or extracted) in, an ExtractionError out when it is not a valid capture of the terms."""

from __future__ import annotations

import functools

import re

from monitor.errors import ExtractionError
from monitor.extract import Document

# Shorter than this is never a whole terms document; the shortest real one in the corpus
# (an acceptable use policy) has several thousand characters.
MIN_CHARACTERS = 200
# A capture keeping less than this share of the previous version's text is a broken fetch
# (error page in the normal chrome, half-rendered page, wrong selector), not a rewrite: real
# rewrites in the corpus stay well above half the length of what they replace.
MIN_SHARE_OF_PREVIOUS = 0.4
# A capture keeping less than this share of the previous version's vocabulary (its distinct words of three
# letters or more) no longer reads as the same document: a home page served at the terms URL. Measured on the
# 324 consecutive pairs of distinct versions in the corpus (genai-eu, genai-eu-extra, the licence lineages),
# real rewrites keep 0.505 at the least (ChatGPT's data processing addendum rewritten end to end; 5th
# percentile 0.965); the newest versions of two different documents keep 0.39 of each other at the median.
MIN_VOCABULARY_KEPT = 0.3
# A previous version with fewer distinct words than this (a short notice, a text mostly in Chinese) is not
# compared by vocabulary.
MIN_VOCABULARY = 100
_WORD = re.compile(r"[a-z]{3,}")
# Longer than this is never one terms document: the longest real one in the corpus has about 132,000
# characters, and a page of Amazon's service terms about 900,000. Analysing text costs time in proportion to
# its length, so a longer capture (one 9.5 MB line of repeated words, say) is refused before any of it.
MAX_TEXT_CHARACTERS = 2_000_000
# Text in which more than this share of the characters are control characters, replacement characters
# (U+FFFD: bytes that did not decode) or private-use code points is binary data, not terms; real pages have
# none or a handful (an icon font's glyphs).
MAX_GARBAGE_SHARE = 0.05
_GARBAGE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")
# Error, challenge and login pages are short; phrases that real terms also use ("access",
# "sign in", "not found") only count on a page shorter than this.
SHORT_PAGE_CHARACTERS = 3000

_CHALLENGE_TITLE = re.compile(
    r"^\s*(?:just a moment|attention required|access denied|verify you are human|are you a robot|"
    r"security check|checking your browser|one more step|human verification|captcha|"
    r"ddos-guard|request blocked|403 forbidden|forbidden\s*$)",
    re.IGNORECASE,
)
_LOGIN_TITLE = re.compile(r"^\s*(?:sign[ -]?in|log[ -]?in|login|sign on)\b", re.IGNORECASE)
# Markup that only challenge pages carry (Cloudflare's challenge options and form); plain
# substrings of the lower-cased page, because a regex over 400 KB pages costs milliseconds.
_CHALLENGE_MARKUP = (b"_cf_chl_opt", b"cf-chl-", b"cf_chl_", b'id="challenge-form"', b"id='challenge-form'",
                     b'id="challenge-running"', b'id="challenge-stage"', b"cf-browser-verification",
                     b'id="cf-challenge', b'class="cf-challenge')
_PASSWORD_INPUT = re.compile(rb"<input[^>]+type=[\"']?password")
_CHALLENGE_TEXT = re.compile(
    r"verify (?:that )?you are (?:a )?human|checking (?:if the site connection is secure|your browser)|"
    r"\bcaptcha\b|are you a robot|unusual traffic|enable javascript and cookies to continue|"
    r"cf-challenge|press (?:and|&) hold|complete the security check",
    re.IGNORECASE,
)
_DENIED_TEXT = re.compile(
    r"^(?:#+ )?access denied\b|you don'?t have permission to access|request (?:was )?blocked|"
    r"error 1020\b|reference #\d+\.[0-9a-f]+",
    re.IGNORECASE | re.MULTILINE,
)
_LOGIN_TEXT = re.compile(
    r"(?:sign|log) ?in to (?:continue|view|access)|please (?:sign|log) ?in\b|"
    r"you (?:must|need to) (?:be logged in|sign in|log in)|login required|session (?:has )?expired",
    re.IGNORECASE,
)
_ERROR_TEXT = re.compile(
    r"this page isn[’']t available|page (?:not found|could not be found|cannot be found|does not exist)|"
    r"^(?:#+ )?404\b|\b404 (?:error|not found)|we couldn[’']t find (?:that|this|the) page|"
    r"^(?:#+ )?not found$",
    re.IGNORECASE | re.MULTILINE,
)
# Every phrase of _ERROR_TEXT holds one of these once lower-cased (no other character matches
# their letters under IGNORECASE): a cheap test that spares the regex on most terms.
_ERROR_HINTS = (b"page", b"404", b"not found")
_REDIRECT_TEXT = re.compile(r"^(?:#+ )?redirecting(?: to \S+|\s*(?:…|\.\.\.)?$)", re.IGNORECASE | re.MULTILINE)
_QUOTES = str.maketrans("’‘“”", "''\"\"")


def blocked_reason(title: str, text: str, markup: str = "") -> str | None:
    """Why a page is a bot challenge, access-denied page or login wall; None for a real page."""
    return markup_blocked_reason(title, text, ascii_lower(markup))


def title_blocked_reason(title: str) -> str | None:
    """Why a page's title alone says it is a bot challenge or access-denied page; None otherwise."""
    if _CHALLENGE_TITLE.match(title):
        return f"bot challenge or access denied page (title {title!r})"
    return None


def markup_blocked_reason(title: str, text: str, lowered: bytes) -> str | None:
    """`blocked_reason` for markup already lower-cased by `ascii_lower`.

    Challenge markup, like every phrase here, counts only on a page whose text is short: a real terms page
    may carry a bot-check widget (Cloudflare Turnstile's frame is a `cf-chl-widget`) in a contact form;
    the page is a challenge only when the terms are absent and the challenge is the page."""
    reason = title_blocked_reason(title)
    if reason or len(text) >= SHORT_PAGE_CHARACTERS:
        return reason
    if (b"chl" in lowered or b"challenge" in lowered or b"verification" in lowered) and any(
            marker in lowered for marker in _CHALLENGE_MARKUP):
        return "bot challenge page (challenge markup)"
    if _LOGIN_TITLE.match(title):
        return f"login wall (title {title!r})"
    for pattern, what in ((_CHALLENGE_TEXT, "bot challenge"), (_DENIED_TEXT, "access denied page"),
                          (_LOGIN_TEXT, "login wall")):
        found = pattern.search(text)
        if found:
            return f"{what} ({found.group(0).strip()!r})"
    if b"password" in lowered and _PASSWORD_INPUT.search(lowered):
        return "login wall (password form)"
    return None


def ascii_lower(text: str, utf8: bytes | None = None) -> bytes:
    """`text` in UTF-8 with A-Z lower-cased: where to look for the ASCII phrases of this module.

    Several times faster than `str.lower` on text with any non-ASCII character. Of all other
    characters only KELVIN SIGN and "İ" lower to ASCII letters ("k"; "i" then a combining
    dot), and no phrase or match sought has a "k" or ends in "i", so each is found exactly
    where `str.lower` would show it. `utf8` is `text` already encoded, if at hand.
    """
    return (utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")).lower()


def error_page_reason(title: str, text: str) -> str | None:
    """Why a page is an error or redirect page rather than the terms; None for a real page."""
    head = text[:SHORT_PAGE_CHARACTERS]
    redirect = _REDIRECT_TEXT.search(head) if len(text) < SHORT_PAGE_CHARACTERS else None
    if redirect:
        return f"redirect stub ({redirect.group(0).strip()!r})"
    lowered = ascii_lower(head)
    maybe_error = any(hint in lowered for hint in _ERROR_HINTS)
    found = (_ERROR_TEXT.search(head) if maybe_error else None) or _ERROR_TEXT.search(title)
    if found and (len(text) < SHORT_PAGE_CHARACTERS or found.start() < 500):
        return f"error page ({found.group(0).strip()!r})"
    return None


def check_document(document: Document, *, expect: str | None = None,
                   previous_text: str | None = None) -> None:
    """Raise ExtractionError unless `document` is a plausible capture of the watched terms."""
    text = document.text
    reason = unreadable_reason(text)
    if reason:
        raise ExtractionError("invalid", reason)
    reason = blocked_reason(document.title, text)
    if reason:
        raise ExtractionError("blocked", reason)
    reason = error_page_reason(document.title, text)
    if reason:
        raise ExtractionError("invalid", reason)
    if len(text) < MIN_CHARACTERS:
        raise ExtractionError("invalid", f"text too short: {len(text)} characters (minimum {MIN_CHARACTERS})")
    reason = compared_reason(text, previous_text) if previous_text else None
    if reason:
        raise ExtractionError("invalid", reason)
    if expect and _folded(expect) not in _folded(text):
        raise ExtractionError("invalid", f"expected phrase {expect!r} is missing")


def compared_reason(text: str, previous_text: str) -> str | None:
    """Why a capture cannot be the same document as the previous version: far shorter (a truncated page), or
    keeping too little of its vocabulary (another page); None when it may be."""
    if text == previous_text:  # an unchanged capture: most of them
        return None
    if len(text) < MIN_SHARE_OF_PREVIOUS * len(previous_text):
        return f"text far shorter than the previous version: {len(text)} characters against {len(previous_text)}"
    previous = _vocabulary(previous_text)
    if len(previous) < MIN_VOCABULARY:
        return None
    kept = len(previous & _vocabulary(text)) / len(previous)
    if kept < MIN_VOCABULARY_KEPT:
        return (f"text no longer reads as the same document: it keeps {kept:.0%} of the previous version's "
                f"words (at least {MIN_VOCABULARY_KEPT:.0%})")
    return None


# A capture is measured against its source's latest version twice (is it another page? then is it in another
# language or a new rule?), and every capture of a source against the same latest version.
@functools.lru_cache(maxsize=64)
def _vocabulary(text: str) -> frozenset[str]:
    """The distinct words of three letters or more, lower-cased."""
    return frozenset(_WORD.findall(text.lower()))


def unreadable_reason(text: str) -> str | None:
    """Why a text is no capture of any terms whatever its words: too long to analyse, or binary garbage
    (random bytes served as a page); None for readable text."""
    if len(text) > MAX_TEXT_CHARACTERS:
        return f"text too long: {len(text):,} characters (maximum {MAX_TEXT_CHARACTERS:,})"
    garbage = sum(1 for _ in _GARBAGE.finditer(text))
    if garbage > MAX_GARBAGE_SHARE * len(text):
        return (f"not text: {garbage / len(text):.0%} of its {len(text):,} characters are control, replacement "
                f"or private-use characters (bytes that do not decode as text)")
    return None


def _folded(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split()).casefold()
