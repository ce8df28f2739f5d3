"""Extract stage: raw bytes of a page or file in, a normalised `Document` out."""

from __future__ import annotations

from dataclasses import dataclass


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
