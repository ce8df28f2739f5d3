"""Extract stage: raw bytes of a page or file in, a normalised `Document` out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """The normalised text of one capture.

    `text` is Markdown-like: `#` headings, numbered/lettered items and `-` bullets each on
    their own line, paragraphs separated by a blank line, no link targets, no noise
    (tracking ids, relative dates, build ids, whitespace runs). Identical terms give
    identical `text`, whatever changed in the page around them.
    """

    title: str
    text: str
    # How the HTML text was found: "selectors" (the source's `select`), "automatic" (no `select`, or it
    # matched nothing: monitor/extract/locate.py); "" for other formats.
    method: str = ""
    # An HTML page's fingerprint (monitor/extract/fingerprint.py): a page of this fingerprint has this text.
    # None for other formats, and for a page also judged from its raw markup.
    fingerprint: str | None = field(default=None, compare=False)


# Imported after Document, which the submodules use.
from monitor.extract.document import extract_document, guess_format, page_fingerprint  # noqa: E402
from monitor.extract.text import normalise_markdown, normalise_plain_text  # noqa: E402
from monitor.extract.validity import blocked_reason, check_document, error_page_reason  # noqa: E402

__all__ = [
    "Document",
    "blocked_reason",
    "check_document",
    "error_page_reason",
    "extract_document",
    "guess_format",
    "page_fingerprint",
    "normalise_markdown",
    "normalise_plain_text",
]
