"""Fetch settings and requests: the validated limits (`FetchSettings`, declared with every other setting in
monitor.settings) and one source to fetch (`FetchRequest`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.settings import FetchSettings, fetch_settings_from_env
from monitor.sources import Source

# The fetch stage's callers take FetchSettings from here, as they take FetchRequest.
__all__ = ["FetchRequest", "FetchSettings", "fetch_settings_from_env"]


@dataclass(frozen=True)
class FetchRequest:
    """One source to fetch, with the validators of the last body seen for a conditional GET; or, with `path`,
    a local file to read as a fetch of the source (`ingest`, `check-source --file`)."""

    source: Source
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None

    @property
    def fetcher(self) -> str:
        """The kind of fetcher that fetches this request (monitor.fetch.registry): the source's, or `file`."""
        return "file" if self.path is not None else self.source.fetcher
