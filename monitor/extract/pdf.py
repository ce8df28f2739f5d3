"""PDF bytes in, the plain text of its pages out (normalised later like any plain text)."""

from __future__ import annotations

import io
import time

from monitor.errors import ExtractionError
from monitor.extract.validity import MAX_TEXT_CHARACTERS

# Reading a PDF's pages stops once it has taken this long: the longest real licence PDF reads in well
# under a second, and a hostile one (thousands of pages of drawing operators) would hold a worker for minutes.
PDF_SECONDS = 30.0


def pdf_text(body: bytes) -> tuple[str, str]:
    """(title from the PDF metadata or '', text of all pages separated by blank lines).

    The text is limited to MAX_TEXT_CHARACTERS and the reading to PDF_SECONDS; pypdf's own limits (a
    stream that inflates past its maximum) and every other pypdf error make an ExtractionError.
    """
    # pypdf for PDF sources only: a cron run of HTML pages never imports it
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = _page_texts(reader)
        title = str((reader.metadata or {}).get("/Title") or "")
    except LimitReachedError as error:
        raise ExtractionError("too_large", f"PDF over a size limit: {error}") from None
    except (PyPdfError, ValueError, KeyError, TypeError) as error:
        raise ExtractionError("invalid", f"not a readable PDF: {error}") from None
    return title, "\n\n".join(pages)


def _page_texts(reader: object) -> list[str]:
    deadline = time.monotonic() + PDF_SECONDS
    pages: list[str] = []
    characters = 0
    for number, page in enumerate(reader.pages, 1):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise ExtractionError("too_large", f"PDF text took over {PDF_SECONDS:g} s to read (stopped at page "
                                               f"{number})")
        pages.append(page.extract_text() or "")
        characters += len(pages[-1])
        if characters > MAX_TEXT_CHARACTERS:
            raise ExtractionError("too_large", f"PDF text over {MAX_TEXT_CHARACTERS:,} characters (page {number})")
    return pages
