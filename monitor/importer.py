"""History import: an Open Terms Archive dataset folder or versions git repository in, recorded versions out.

Dataset layout: <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md, one file per recorded version.
Versions repository: <service>/<terms type>.md, each commit of each file a version at the commit time.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import UsageError
from monitor.fetch import OK, FetchResult
from monitor.pipeline import CaptureOutcome, Recorder
from monitor.sources import Source

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)Z$")
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


def source_for(service: str, terms_type: str, origin: str) -> Source:
    """The source an imported document is recorded under: provider and title are the folder names, exactly."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{service}-{terms_type}".lower()).strip("-")
    return Source.model_construct(
        id=slug, provider=service, title=terms_type, url=origin, kind=_guess_kind(terms_type), format=None,
        select=(), remove=(), schedule="1d", expect=None, enabled=False, fetcher="http", allow_private=False,
        respect_robots=True,
    )


def _guess_kind(terms_type: str) -> str:
    lowered = terms_type.lower()
    if "licen" in lowered:
        return "license"
    return "policy" if "policy" in lowered else "terms"


def parse_stamp(name: str) -> dt.datetime | None:
    match = _STAMP.match(name)
    if not match:
        return None
    day, hour, minute, second = match.groups()
    return dt.datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}+00:00")


def find_versions(path: Path) -> list[HistoricVersion]:
    """Every version under `path`, oldest first per document; a git repository is read commit by commit."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    versions = list(_git_versions(path)) if (path / ".git").exists() else list(_dataset_versions(path))
    if not versions:
        raise UsageError(f"{path}: found no versions (expected <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md "
                         f"files, or an Open Terms Archive versions git repository)")
    return sorted(versions, key=lambda v: (v.service, v.terms_type, v.recorded_at))


def _dataset_versions(root: Path) -> Iterator[HistoricVersion]:
    for file in sorted(root.glob("*/*/*")):
        recorded_at = parse_stamp(file.stem)
        if file.is_file() and recorded_at is not None:
            yield HistoricVersion(file.parent.parent.name, file.parent.name, recorded_at, file.suffix,
                                  file.read_bytes)


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
    outcomes = []
    for version in versions:
        key = (version.service, version.terms_type)
        if key not in sources:
            sources[key] = source_for(version.service, version.terms_type, f"{origin}/{version.service}/"
                                                                           f"{version.terms_type}")
            recorder.sync_sources([sources[key]])
        body = version.read()
        result = FetchResult(url=sources[key].url, outcome=OK, started_at=version.recorded_at, elapsed_ms=0,
                             body=body, content_type=_CONTENT_TYPES.get(version.suffix.lower()))
        outcome = recorder.record(sources[key], result)
        outcomes.append(outcome)
        if on_progress:
            on_progress(version, outcome)
    return outcomes
