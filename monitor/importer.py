"""History import: an Open Terms Archive dataset folder or versions git repository in, recorded versions out.

Dataset layout: <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md, one file per recorded version.
Versions repository: <service>/<terms type>.md, each commit of each file a version at the commit time.

A dataset folder is read as untrusted: only regular files inside it (a symlink that leads out of it, or
to a device, FIFO or /proc file, is refused), each at most MAX_VERSION_BYTES, all checked before anything
is stored; folder names longer than the source columns or holding control characters are refused too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import UsageError
from monitor.fetch import OK, FetchResult
from monitor.pipeline import CaptureOutcome, Recorder
from monitor.sources import Source
from monitor.store import SourceRow, session_scope
from monitor.timestamps import parse_stamp

# The fetcher's default body limit: an imported version is no bigger than a fetched one.
MAX_VERSION_BYTES = 10 * 1024 * 1024
_ID_LENGTH = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_CONTENT_TYPES = {".md": "text/markdown", ".html": "text/html", ".htm": "text/html", ".txt": "text/plain",
                  ".pdf": "application/pdf"}


@dataclass(frozen=True)
class HistoricVersion:
    """One recorded version of a document, not yet read."""

    service: str
    terms_type: str
    recorded_at: dt.datetime
    suffix: str
    read: Callable[[], bytes]


def source_for(service: str, terms_type: str, origin: str, source_id: str | None = None) -> Source:
    """The source an imported document is recorded under: provider and title are the folder names, exactly."""
    return Source.model_construct(
        id=source_id or plain_id(service, terms_type), provider=service, title=terms_type, url=origin,
        kind=_guess_kind(terms_type), format=None, select=(), remove=(), schedule="1d", expect=None,
        enabled=False, fetcher="http", allow_private=False, allow_private_redirects=False, respect_robots=True,
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


def find_versions(path: Path) -> list[HistoricVersion]:
    """Every version under `path`, oldest first per document; a git repository is read commit by commit."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise UsageError(f"{path}: not a folder (give a dataset folder or a versions git repository)")
    versions = list(_git_versions(path)) if (path / ".git").exists() else list(_dataset_versions(path))
    if not versions:
        raise UsageError(f"{path}: found no versions (expected <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md "
                         f"files, or an Open Terms Archive versions git repository)")
    for version in versions:
        _check_names(path, version.service, version.terms_type)
    return sorted(versions, key=lambda v: (v.service, v.terms_type, v.recorded_at))


def _check_names(root: Path, service: str, terms_type: str) -> None:
    where = f"{root}/{service}/{terms_type}".encode("unicode_escape").decode("ascii")
    for name, column, limit in ((service, "provider", 200), (terms_type, "title", 300)):
        if _CONTROL.search(name):
            raise UsageError(f"{where}: a folder name holds a control character")
        if len(name) > limit:
            raise UsageError(f"{where}: folder name {name[:40]!r}... is longer than the {limit} characters "
                             f"of a source's {column}")


def _dataset_versions(root: Path) -> Iterator[HistoricVersion]:
    inside = root.resolve()
    for file in sorted(root.glob("*/*/*")):
        recorded_at = parse_stamp(file.stem)
        if recorded_at is None:
            continue
        size = _regular_file_size(file, inside)
        yield HistoricVersion(file.parent.parent.name, file.parent.name, recorded_at, file.suffix,
                              lambda file=file, size=size: _read_limited(file, size))


def _regular_file_size(file: Path, inside: Path) -> int:
    """The size of `file` if it is a regular file inside `inside` (symlinks resolved) and small enough."""
    real = file.resolve()
    if not real.is_relative_to(inside):
        raise UsageError(f"{file}: a symlink to {real}, outside the folder being imported (refused)")
    try:
        info = os.stat(real)
    except OSError as error:
        raise UsageError(f"{file}: cannot read it: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{file}: not a regular file (refused)")
    if info.st_size > MAX_VERSION_BYTES:
        raise UsageError(f"{file}: {info.st_size} bytes, over the {MAX_VERSION_BYTES}-byte limit of one version")
    return info.st_size


def _read_limited(file: Path, expected: int) -> bytes:
    # O_NOFOLLOW: a file swapped for a symlink after the check is refused, not followed.
    descriptor = os.open(file.resolve(), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_VERSION_BYTES + 1)
    if len(data) > MAX_VERSION_BYTES:
        raise UsageError(f"{file}: grew past the {MAX_VERSION_BYTES}-byte limit of one version while importing")
    return data


def _git_versions(repo: Path) -> Iterator[HistoricVersion]:
    log = _git(repo, "log", "--reverse", "--format=@%H %cI", "--name-only", "--diff-filter=AM", "--", ".")
    commit = when = None
    for line in log.splitlines():
        if line.startswith("@"):
            commit, stamp = line[1:].split(" ", 1)
            when = dt.datetime.fromisoformat(stamp).astimezone(dt.timezone.utc)
            continue
        parts = Path(line).parts
        if len(parts) != 2 or not line.strip() or commit is None:
            continue
        service, file_name = parts
        terms_type, suffix = Path(file_name).stem, Path(file_name).suffix
        yield HistoricVersion(service, terms_type, when, suffix,
                              lambda c=commit, p=line: _git(repo, "show", f"{c}:{p}", raw=True))


def _git(repo: Path, *args: str, raw: bool = False):  # type: ignore[no-untyped-def]
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise UsageError(f"{repo}: cannot read the git repository: {error}") from None
    return done.stdout if raw else done.stdout.decode("utf-8", "replace")


def import_history(recorder: Recorder, path: Path,
                   on_progress: Callable[[HistoricVersion, CaptureOutcome], None] | None = None,
                   versions: list[HistoricVersion] | None = None) -> list[CaptureOutcome]:
    """Record every version found under `path`, each document's versions in time order."""
    versions = versions if versions is not None else find_versions(path)
    origin = path.resolve().as_uri()
    sources: dict[tuple[str, str], Source] = {}
    owners = _IdOwners(recorder)
    outcomes = []
    for version in versions:
        key = (version.service, version.terms_type)
        if key not in sources:
            source_id = unique_id(version.service, version.terms_type, owners.owner_of)
            owners.taken[source_id] = key
            sources[key] = source_for(version.service, version.terms_type,
                                      f"{origin}/{version.service}/{version.terms_type}", source_id)
            recorder.sync_sources([sources[key]])
        body = version.read()
        result = FetchResult(url=sources[key].url, outcome=OK, started_at=version.recorded_at, elapsed_ms=0,
                             body=body, content_type=_CONTENT_TYPES.get(version.suffix.lower()))
        outcome = recorder.record(sources[key], result)
        outcomes.append(outcome)
        if on_progress:
            on_progress(version, outcome)
    return outcomes


class _IdOwners:
    """Which document holds a source id: one taken in this import, else the stored source's provider and title."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.taken: dict[str, tuple[str, str]] = {}

    def owner_of(self, source_id: str) -> tuple[str, str] | None:
        if source_id in self.taken:
            return self.taken[source_id]
        with session_scope(self.recorder.engine) as session:
            row = session.get(SourceRow, source_id)
            return (row.provider, row.title) if row is not None else None
