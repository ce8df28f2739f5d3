"""PDF bytes in, the plain text of its pages out (normalised later like any plain text)."""

from __future__ import annotations

import io

from monitor.errors import ExtractionError


def pdf_text(body: bytes) -> tuple[str, str]:
    """(title from the PDF metadata or '', text of all pages separated by blank lines)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "")
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise ExtractionError("invalid", f"not a readable PDF: {error}") from None
    return title, "\n\n".join(pages)
