"""History import: an Open Terms Archive dataset folder or versions git repository in, recorded versions out.

Dataset layout: <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md, one file per recorded version.
Versions repository: <service>/<terms type>.md, each commit of each file a version at the commit time (a
repository with other files below its top level is not one). Nothing else counts as history.

The history stays true however often and in whatever order slices are imported: a version already stored
(same time, same body) is skipped; versions older than what a source holds make that source's history be
recorded again in time order (`Recorder.replace_history`). A `sources.yaml` entry whose `history:` names a
document takes it over (its id, provider, title and URL), so fetching continues the same timeline. Each
version keeps its origin (dataset and file, or repository, commit and path) on its snapshot, for citing.

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
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select

from monitor.analysis import (MIN_SOURCES_TO_START_WORKERS, Analysis, AnalysisPool, analyse_body,
                               analysis_processes, shared_pool)
from monitor.errors import UsageError
from monitor.fetch import OK, FetchResult
from monitor.pipeline import Capture, CaptureOutcome, Recorder
from monitor.sources import Source
from monitor.store import FetchAttempt, Snapshot, SourceRow, session_scope
from monitor.timestamps import parse_stamp

# The small real history `clausewatch import --example` loads (monitor/_example, shipped in the wheel).
EXAMPLE_FOLDER = Path(__file__).resolve().parent / "_example"
EXAMPLE_DATASETS = (EXAMPLE_FOLDER / "genai-eu", EXAMPLE_FOLDER / "licenses-lineage")
# The fetcher's default body limit: an imported version is no bigger than a fetched one.
MAX_VERSION_BYTES = 10 * 1024 * 1024
_ID_LENGTH = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_CONTENT_TYPES = {".md": "text/markdown", ".html": "text/html", ".htm": "text/html", ".txt": "text/plain",
                  ".pdf": "application/pdf"}


@dataclass(frozen=True)
class HistoricVersion:
    """One recorded version of a document, not yet read; `origin` is how a reader cites where it came from."""

    service: str
    terms_type: str
    recorded_at: dt.datetime
    suffix: str
    read: Callable[[], bytes]
    origin: str = ""


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


def find_versions(path: Path) -> list[HistoricVersion]:
    """Every version under `path`, oldest first per document, each with its origin.

    Only two layouts count as history: a dataset folder, and a versions git repository read commit by commit
    (a repository with any other file below its top level is not one: a project's own code is no history)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise UsageError(f"{path}: not a folder (give a dataset folder or a versions git repository)")
    versions = list(_git_versions(path)) if _is_versions_repository(path) else _dataset_versions(path)
    if not versions:
        raise UsageError(f"{path}: found no versions (expected <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md "
                         f"files, or an Open Terms Archive versions git repository of <service>/<terms type>.md)")
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


def _dataset_versions(root: Path) -> list[HistoricVersion]:
    inside = root.resolve()
    found = []
    for file in sorted(root.glob("*/*/*")):
        recorded_at = parse_stamp(file.stem)
        if recorded_at is None:
            continue
        size = _regular_file_size(file, inside)
        found.append(HistoricVersion(file.parent.parent.name, file.parent.name, recorded_at, file.suffix,
                                     lambda file=file, size=size: _read_limited(file, size),
                                     f"{file.parent.parent.name}/{file.parent.name}/{file.name}"))
    if not found:
        return found
    newest = max(version.recorded_at for version in found)
    dataset = f"dataset {inside.name} (versions recorded to {newest:%Y-%m-%d})"
    return [replace(version, origin=f"{dataset}, file {version.origin}") for version in found]


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


def _is_versions_repository(path: Path) -> bool:
    """A git repository whose tracked files are all either at its top (README, LICENSE...), in a hidden folder
    (.github) or `<service>/<terms type>.md`: the layout of an Open Terms Archive versions repository."""
    if not (path / ".git").exists():
        return False
    files = _git(path, "ls-files", "-z").split("\0")
    return any(_is_version_file(name) for name in files) and all(
        _is_version_file(name) or "/" not in name or name.startswith(".") for name in files if name)


def _is_version_file(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1].endswith(".md") and not any(part.startswith(".") for part in parts)


def _git_versions(repo: Path) -> Iterator[HistoricVersion]:
    where = _repository_name(repo)
    log = _git(repo, "log", "--reverse", "--format=@%H %cI", "--name-only", "--diff-filter=AM", "--", ".")
    commit = when = None
    for line in log.splitlines():
        if line.startswith("@"):
            commit, stamp = line[1:].split(" ", 1)
            when = dt.datetime.fromisoformat(stamp).astimezone(dt.timezone.utc)
            continue
        if not _is_version_file(line) or commit is None:
            continue
        service, file_name = Path(line).parts
        terms_type, suffix = Path(file_name).stem, Path(file_name).suffix
        yield HistoricVersion(service, terms_type, when, suffix,
                              lambda c=commit, p=line: _git(repo, "show", f"{c}:{p}", raw=True),
                              f"repository {where}, commit {commit}, file {line}")


def _repository_name(repo: Path) -> str:
    """The repository's public address (its `origin` remote, without any credentials) when it has one, else
    its folder's name: never a local path."""
    try:
        remote = _git(repo, "config", "--get", "remote.origin.url").strip()
    except UsageError:  # no remote: git exits 1
        remote = ""
    match = re.match(r"^(https?://)(?:[^@/]*@)?([^\s]+)$", remote)
    return f"{match.group(1)}{match.group(2)}" if match else repo.resolve().name


def _git(repo: Path, *args: str, raw: bool = False):  # type: ignore[no-untyped-def]
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise UsageError(f"{repo}: cannot read the git repository: {error}") from None
    return done.stdout if raw else done.stdout.decode("utf-8", "replace")


@dataclass
class ImportSummary:
    """What one import did: versions found, those already stored (skipped), the outcomes of those recorded, and
    the sources whose stored history was recorded again in time order because older versions came in."""

    found: int = 0
    documents: int = 0
    already_stored: int = 0
    outcomes: list[CaptureOutcome] = field(default_factory=list)
    backfilled: list[str] = field(default_factory=list)


def import_history(recorder: Recorder, path: Path,
                   on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None = None,
                   versions: list[HistoricVersion] | None = None,
                   registry: Sequence[Source] = ()) -> ImportSummary:
    """Record the versions found under `path` that are not stored yet, each document's in time order.

    A document a `registry` entry names (its `history:` field) is recorded under that entry, with its id,
    provider, title and URL. Versions older than what a source holds make its whole history be recorded again
    in time order (`Recorder.replace_history`). Nobody is alerted: the recorder given has no alert channels.
    """
    versions = versions if versions is not None else find_versions(path)
    by_document: dict[tuple[str, str], list[HistoricVersion]] = {}
    for version in versions:
        by_document.setdefault((version.service, version.terms_type), []).append(version)
    summary = ImportSummary(found=len(versions), documents=len(by_document))
    named = {(source.history.service, source.history.terms_type): source for source in registry if source.history}
    owners = _IdOwners(recorder, {source.id for source in registry})
    pool = _analysis_pool(len(versions))

    def prepared() -> Iterator[_Document]:
        for key, document_versions in by_document.items():
            source = named.get(key) or _unnamed_source(key, owners)
            recorder.sync_sources([source])
            yield _prepare_document(recorder, source, document_versions, summary, on_progress, pool)

    # the next documents are analysed by the worker processes while this one is recorded
    for document in _ahead(prepared(), DOCUMENTS_AHEAD):
        _import_document(recorder, document, summary, on_progress)
    return summary


# Documents read and handed to the analysis processes ahead of the one being recorded.
DOCUMENTS_AHEAD = 2


@dataclass
class _Document:
    """One document's versions not stored yet, as captures, each with its analysis on the way."""

    source: Source
    stored: _StoredCaptures
    captures: list[Capture]
    versions: list[HistoricVersion]
    analyses: list[Future | None]

    def analysed_captures(self) -> list[Capture]:
        return [replace(capture, analysis=_result_or_none(analysis))
                for capture, analysis in zip(self.captures, self.analyses)]


def _analysis_pool(count: int) -> AnalysisPool | None:
    return shared_pool(analysis_processes(), start=count >= MIN_SOURCES_TO_START_WORKERS)


def _result_or_none(analysis: Future | None) -> Analysis | None:
    """A worker's analysis, or None (the recorder then analyses the body itself) when it failed."""
    if analysis is None:
        return None
    try:
        return analysis.result()
    except Exception:  # noqa: BLE001 - a dead or broken worker: the recorder does the work instead
        return None


def _ahead(documents: Iterator[_Document], count: int) -> Iterator[_Document]:
    waiting: deque[_Document] = deque()
    for document in documents:
        waiting.append(document)
        if len(waiting) > count:
            yield waiting.popleft()
    yield from waiting


def _unnamed_source(key: tuple[str, str], owners: _IdOwners) -> Source:
    source_id = unique_id(*key, owners.owner_of)
    owners.taken[source_id] = key
    return source_for(*key, source_id=source_id)


def _prepare_document(recorder: Recorder, source: Source, versions: list[HistoricVersion], summary: ImportSummary,
                      on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None,
                      pool: AnalysisPool | None) -> _Document:
    """The document's versions not stored yet, as captures, each distinct body sent to be analysed."""
    stored = _stored_captures(recorder, source.id)
    captures, new, analyses = [], [], []
    submitted: dict[str, Future | None] = {}
    for version in versions:
        body = version.read()
        digest = hashlib.sha256(body).hexdigest()
        if (version.recorded_at, digest) in stored.keys:
            summary.already_stored += 1
            if on_progress:
                on_progress(version, None)
            continue
        capture = _capture(source, version, body)
        if pool is not None and digest not in submitted:
            submitted[digest] = pool.submit(analyse_body, body, capture.result.content_type, capture.source)
        captures.append(capture)
        new.append(version)
        analyses.append(submitted.get(digest))
    return _Document(source, stored, captures, new, analyses)


def _import_document(recorder: Recorder, document: _Document, summary: ImportSummary,
                     on_progress: Callable[[HistoricVersion, CaptureOutcome | None], None] | None) -> None:
    source, stored, new = document.source, document.stored, document.versions
    if not document.captures:
        return
    captures = document.analysed_captures()
    if stored.newest is not None and captures[0].result.started_at < stored.newest:
        everything = sorted([*stored.captures(recorder, source), *captures],
                            key=lambda capture: capture.result.started_at)
        new_ones = {id(capture) for capture in captures}
        outcomes = [outcome for outcome, capture in zip(recorder.replace_history(source.id, everything), everything)
                    if id(capture) in new_ones]
        summary.backfilled.append(source.id)
    else:
        outcomes = [recorder.record_many([capture])[0] for capture in captures]
    summary.outcomes += outcomes
    for version, outcome in zip(new, outcomes, strict=True):
        if on_progress:
            on_progress(version, outcome)


def _capture(source: Source, version: HistoricVersion, body: bytes) -> Capture:
    result = FetchResult(url=source.url, outcome=OK, started_at=version.recorded_at, elapsed_ms=0, body=body,
                         content_type=_CONTENT_TYPES.get(version.suffix.lower()))
    return Capture(_as_archived(source, result.content_type), result, origin=version.origin)


def _as_archived(source: Source, content_type: str | None) -> Source:
    """The source as an archived copy is read: a raw page (HTML) as the registry says, but the archive's own
    text (Markdown, plain text, PDF) without the selectors, format and expected phrase written for the page."""
    if content_type == "text/html":
        return source
    return source.model_copy(update={"format": None, "select": (), "remove": (), "expect": None})


@dataclass
class _StoredCaptures:
    """A source's stored attempts, oldest first: their (time, body SHA-256) keys and the newest time."""

    source_id: str
    attempts: list[tuple[FetchAttempt, str | None]]  # each with its body's snapshot origin
    keys: set[tuple[dt.datetime, str | None]]
    newest: dt.datetime | None

    def captures(self, recorder: Recorder, source: Source) -> list[Capture]:
        """The stored attempts as captures to record again: a body imported before is read as archived."""
        with session_scope(recorder.engine) as session:
            bodies = {row.id: (zlib.decompress(row.body), row.content_type) for row in session.execute(
                select(Snapshot.id, Snapshot.body, Snapshot.content_type).where(Snapshot.source_id == self.source_id))}
        captures: list[Capture] = []
        last_body: tuple[bytes, str | None, str | None] | None = None  # (body, content type, origin)
        for attempt, origin in self.attempts:
            if attempt.snapshot_id is not None:
                last_body = (*bodies[attempt.snapshot_id], origin)
            elif attempt.outcome != OK or last_body is None:
                captures.append(Capture(source, FetchResult(
                    url=source.url, outcome=attempt.outcome, started_at=attempt.started_at,
                    elapsed_ms=attempt.elapsed_ms, http_status=attempt.http_status, error=attempt.error)))
                continue
            # failed checks are made again (whether a body is too short depends on what came before it); a
            # success stored without its body was unchanged: it is read as the body stored before it
            body, content_type, body_origin = last_body
            result = FetchResult(url=source.url, outcome=OK, started_at=attempt.started_at,
                                 elapsed_ms=attempt.elapsed_ms, http_status=attempt.http_status, body=body,
                                 content_type=content_type)
            reading = _as_archived(source, content_type) if body_origin else source
            captures.append(Capture(reading, result, origin=body_origin))
        return captures


def _stored_captures(recorder: Recorder, source_id: str) -> _StoredCaptures:
    with session_scope(recorder.engine) as session:
        rows = session.execute(
            select(FetchAttempt, Snapshot.sha256, Snapshot.origin)
            .outerjoin(Snapshot, Snapshot.id == FetchAttempt.snapshot_id)
            .where(FetchAttempt.source_id == source_id).order_by(FetchAttempt.started_at, FetchAttempt.id)
        ).all()
        session.expunge_all()
    keys = {(attempt.started_at, sha256) for attempt, sha256, _ in rows}
    return _StoredCaptures(source_id, [(attempt, origin) for attempt, _, origin in rows], keys,
                           max((attempt.started_at for attempt, *_ in rows), default=None))


class _IdOwners:
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
