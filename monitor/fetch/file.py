"""Local files as fetches: a path in, a `FetchResult` out (for `ingest` and `check-source --file`)."""

from __future__ import annotations

import datetime as dt
import mimetypes
import time
from collections.abc import Sequence
from pathlib import Path

from monitor.errors import UsageError
from monitor.fetch import OK, FetchResult
from monitor.fetch.politeness import Politeness
from monitor.fetch.registry import Admit, Fetcher, ResultCallback
from monitor.fetch.settings import FetchRequest, FetchSettings

_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}


def guess_content_type(path: Path) -> str | None:
    """The content type a server would likely have sent for this file, from its suffix."""
    suffix = path.suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]


def read_file(path: str | Path) -> FetchResult:
    """Read a local file as an `ok` fetch; raise UsageError when it cannot be read."""
    file = Path(path).expanduser()
    started_at = dt.datetime.now(dt.timezone.utc)
    began = time.monotonic()
    try:
        body = file.read_bytes()
    except OSError as error:
        raise UsageError(f"{file}: cannot read the file ({error.strerror or error})") from None
    url = file.resolve().as_uri()
    return FetchResult(
        url=url,
        outcome=OK,
        started_at=started_at,
        elapsed_ms=round((time.monotonic() - began) * 1000),
        body=body,
        content_type=guess_content_type(file),
        final_url=url,
    )


class FileFetcher(Fetcher):
    """The requests that carry a local `path`: each file read as an `ok` fetch (UsageError if unreadable)."""

    kind = "file"
    named_by_sources = False

    async def fetch(self, requests: Sequence[FetchRequest], settings: FetchSettings, on_result: ResultCallback, *,
                    politeness: Politeness | None = None, admit: Admit | None = None) -> None:
        for request in requests:
            if request.path is None:
                raise ValueError(f"source {request.source.id!r}: the file fetcher needs a path")
            on_result(request, read_file(request.path))
