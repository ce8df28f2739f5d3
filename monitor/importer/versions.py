"""Versions on disk: a dataset folder (<service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md) or an Open Terms Archive
versions git repository (<service>/<terms type>.md, one version per commit) in, its `HistoricVersion`s out, each
file checked (a regular file inside the folder, small enough, its folder names fit for a source) before any is read."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from monitor.errors import UsageError
from monitor.timestamps import parse_stamp

__all__ = ["EXAMPLE_DATASETS", "MAX_VERSION_BYTES", "HistoricVersion", "find_versions"]

# The small real history `clausewatch import --example` loads (monitor/_example, shipped in the wheel).
EXAMPLE_FOLDER = Path(__file__).resolve().parent.parent / "_example"
EXAMPLE_DATASETS = (EXAMPLE_FOLDER / "genai-eu", EXAMPLE_FOLDER / "licenses-lineage")
# The fetcher's default body limit: an imported version is no bigger than a fetched one.
MAX_VERSION_BYTES = 10 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class HistoricVersion:
    """One recorded version of a document, not yet read; `origin` is how a reader cites where it came from."""

    service: str
    terms_type: str
    recorded_at: dt.datetime
    suffix: str
    read: Callable[[], bytes]
    origin: str = ""


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
        # A read allocates the bytes it asks for: the size found, not the limit (10 MB for every version).
        data = handle.read(expected + 1)
        if len(data) > expected:  # grown since it was found: read on, up to the limit
            data += handle.read(MAX_VERSION_BYTES + 1 - len(data))
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
