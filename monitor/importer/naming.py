"""Naming: an imported document's folder names in, the source it is recorded under out (its id, unique among the
sources stored and the registry's, its provider, title and kind)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from monitor.pipeline import Recorder
from monitor.sources import Source
from monitor.store import SourceRow, session_scope

__all__ = ["IdOwners", "plain_id", "source_for", "unique_id", "unnamed_source"]

_ID_LENGTH = 120


def source_for(service: str, terms_type: str, url: str = "", source_id: str | None = None) -> Source:
    """The source an imported document no registry entry names is recorded under: provider and title are the
    folder names, exactly; its URL is unknown (""), as the archive's copy is cited on each version instead."""
    return Source.model_construct(
        id=source_id or plain_id(service, terms_type), provider=service, title=terms_type, url=url,
        kind=_guess_kind(terms_type), format=None, select=(), remove=(), schedule="1d", expect=None,
        enabled=False, fetcher="http", allow_private=False, allow_private_redirects=False, respect_robots=True,
        history=None,
    )


def plain_id(service: str, terms_type: str) -> str:
    """The readable id of a document: a slug of its folder names ('' when they hold no letter or digit)."""
    return re.sub(r"[^a-z0-9]+", "-", f"{service}-{terms_type}".lower()).strip("-")[:_ID_LENGTH].strip("-")


def unique_id(service: str, terms_type: str, owner_of: Callable[[str], tuple[str, str] | None]) -> str:
    """The plain id, unless it is empty or another document (`owner_of(id)`: its folder names) has it;
    then the slug with a hash of the exact names, so "A B/x" and "a-b/x" stay two sources."""
    slug = plain_id(service, terms_type)
    owner = owner_of(slug) if slug else None
    if slug and owner in (None, (service, terms_type)):
        return slug
    digest = hashlib.sha256(f"{service}\0{terms_type}".encode()).hexdigest()[:10]
    return f"{(slug or 'document')[:_ID_LENGTH - 11].rstrip('-')}-{digest}"


def _guess_kind(terms_type: str) -> str:
    lowered = terms_type.lower()
    if "licen" in lowered:
        return "license"
    return "policy" if "policy" in lowered else "terms"


def unnamed_source(key: tuple[str, str], owners: IdOwners) -> Source:
    source_id = unique_id(*key, owners.owner_of)
    owners.taken[source_id] = key
    return source_for(*key, source_id=source_id)


class IdOwners:
    """Which document holds a source id: one taken in this import, else the stored source's provider and title."""

    def __init__(self, recorder: Recorder, registry_ids: set[str]) -> None:
        self.recorder = recorder
        # a registry id belongs to its entry, even before anything is stored under it
        self.taken: dict[str, tuple[str, str]] = {source_id: ("", "") for source_id in registry_ids}

    def owner_of(self, source_id: str) -> tuple[str, str] | None:
        if source_id in self.taken:
            return self.taken[source_id]
        with session_scope(self.recorder.engine) as session:
            row = session.get(SourceRow, source_id)
            return (row.provider, row.title) if row is not None else None
