"""Sources stage: `sources.yaml` in, validated `Source` objects out (one clear error per mistake)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.durations import match_duration
from monitor.errors import ConfigError
from monitor.settings import load_settings, setting_default, variable
from monitor.urls import parse_disagreement
from monitor.yaml_loader import GuardedLoader, load_guarded

SOURCES_ENV = variable("sources_file")
# ./sources.yaml: the setting's default, used when it exists.
DEFAULT_SOURCES_FILE = setting_default("sources_file")
# The registry shipped inside the package (pyproject.toml: this repository's sources.yaml).
REGISTRY_FILE = "sources.yaml"

_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
MAX_URL_LENGTH = 4000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The kinds a source may name in `fetcher:`. Each is a `Fetcher` of monitor.fetch, which registers it by its
# kind; that stage is a layer above this one (it imports Source), so the shipped kinds are named here too,
# and tests/test_fetch_registry.py fails when the two lists differ. A fetcher defined anywhere else (a
# plugin, a test) adds its kind here when its class is defined (`allow_fetcher_kind`).
FETCHER_KINDS: set[str] = {"http", "browser"}


def allow_fetcher_kind(kind: str) -> None:
    """Let sources name `kind` in `fetcher:` (called by monitor.fetch when a fetcher class registers)."""
    FETCHER_KINDS.add(kind)


def parse_interval(text: str) -> dt.timedelta | None:
    """A schedule's interval ('30m', '12h', '1d': the one duration grammar, monitor.durations); None when the
    text is not one (then it may be a cron expression), ValueError past MAX_DURATION."""
    return match_duration(text)


def _check_schedule(value: str) -> str:
    if parse_interval(value) is not None:
        if parse_interval(value) < dt.timedelta(minutes=1):
            raise ValueError(f"interval {value!r} is shorter than one minute")
        return value
    # apscheduler's crontab parser only for a cron schedule, and only when the file is validated, not read from the cache
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValueError(
            f"{value!r} is neither an interval (30m, 12h, 1d) nor a cron expression ({error})"
        ) from None
    return value


@functools.lru_cache(maxsize=1024)  # a registry repeats a few selectors over hundreds of sources
def _check_selector(value: str) -> str:
    # only when the file is validated, not when it comes from the cache
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as error:
        raise ValueError(f"bad CSS selector {value!r}: {error}") from None
    return value


class HistoryKey(BaseModel):
    """Which imported document is a source's history: its Open Terms Archive service and terms type, the
    folder names of a dataset (`<service>/<terms type>/...`) or versions repository."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=200)
    terms_type: str = Field(min_length=1, max_length=300)

    @field_validator("service", "terms_type")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        found = _CONTROL.search(value)
        if found:
            raise ValueError(f"contains the control character {found.group()!r}")
        return value


class Source(BaseModel):
    """One watched document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The lengths are the store's column sizes (monitor/store/models.py): what validates, stores.
    id: str = Field(pattern=_SLUG, max_length=120)
    provider: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=300)
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    kind: Literal["terms", "policy", "license"] = "terms"
    format: Literal["html", "markdown", "text", "pdf"] | None = None
    select: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    schedule: str = "12h"
    expect: str | None = None
    enabled: bool = True
    fetcher: str = "http"  # one of FETCHER_KINDS
    allow_private: bool = False  # the URL's own host and port may be a private or loopback address
    allow_private_redirects: bool = False  # so may any other host the page redirects to or loads from
    respect_robots: bool = True
    # ISO 639-1 code the document is written in: sent as Accept-Language, and a capture in another
    # language is a failed capture (`invalid`), never a version
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    history: HistoryKey | None = None  # the imported document that continues as this source (`clausewatch import`)

    @field_validator("provider", "title", "url", "expect", "select", "remove")
    @classmethod
    def _no_control_characters(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        for text in (value,) if isinstance(value, str) else value or ():
            found = _CONTROL.search(text)
            if found:
                raise ValueError(f"contains the control character {found.group()!r}")
        return value

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        ambiguous = parse_disagreement(value)
        if ambiguous:
            raise ValueError(ambiguous)
        return value

    @field_validator("fetcher")
    @classmethod
    def _fetcher_is_known(cls, value: str) -> str:
        if value not in FETCHER_KINDS:
            raise ValueError(f"unknown fetcher {value!r} (one of: {', '.join(sorted(FETCHER_KINDS))})")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule_is_valid(cls, value: str) -> str:
        return _check_schedule(value)

    @field_validator("select", "remove")
    @classmethod
    def _selectors_are_valid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_selector(selector) for selector in value)


# The registry that ships with ClauseWatch: the wheel carries the top-level sources.yaml as
# monitor/_registry/sources.yaml (pyproject.toml, package-dir); a checkout has it beside the package.
_PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_SOURCES_CANDIDATES = (_PACKAGE_DIR / "_registry" / REGISTRY_FILE, _PACKAGE_DIR.parent / REGISTRY_FILE)


def shipped_sources_file() -> Path | None:
    """The shipped registry, or None when this installation has none."""
    return next((candidate for candidate in SHIPPED_SOURCES_CANDIDATES if candidate.is_file()), None)


def default_sources_path() -> Path:
    """./sources.yaml when it exists, else the shipped registry."""
    local = Path(DEFAULT_SOURCES_FILE)
    return local if local.is_file() else shipped_sources_file() or local


def sources_path(explicit: str | os.PathLike | None = None) -> Path:
    """The sources file to use: the explicit path, else the one $CLAUSEWATCH_SOURCES names, else ./sources.yaml
    if it exists, else the shipped registry."""
    settings = load_settings()
    chosen = explicit or (settings.sources_file if settings.is_set("sources_file") else None)
    return Path(chosen) if chosen else default_sources_path()


def describe_sources_file(path: Path) -> str:
    """A sources file's path as messages show it, saying when it is the shipped registry."""
    if path in SHIPPED_SOURCES_CANDIDATES:
        return f"{path} (the registry shipped with ClauseWatch, used when there is no ./{DEFAULT_SOURCES_FILE})"
    return str(path)


class _LineLoader(GuardedLoader):
    """A YAML loader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_sources(path: str | os.PathLike | None = None) -> list[Source]:
    """Read and validate a sources file; raise ConfigError naming file, line, source and field.

    A file that validated before, byte for byte, under this same code comes from the cache (`_SourcesCache`).
    """
    file = sources_path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such sources file (use --sources PATH or {SOURCES_ENV})") from None
    cache = _SourcesCache(file, data)
    cached = cache.read()
    if cached is not None:
        return cached
    sources = _validate_sources(file, data)
    cache.write(sources)
    return sources


def _validate_sources(file: Path, data: bytes) -> list[Source]:
    try:
        raw = load_guarded(data.decode("utf-8"), _LineLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid YAML: {_one_line(str(error))}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise ConfigError(f"{file}: expected a top-level 'sources:' list")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    histories: dict[HistoryKey, str] = {}
    for position, entry in enumerate(raw["sources"], start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: source #{position}: expected a mapping of fields")
        line = entry.pop("__line__", "?")
        for value in entry.values():  # a nested mapping (history:) has its line too
            if isinstance(value, dict):
                value.pop("__line__", None)
        name = entry.get("id") if isinstance(entry.get("id"), str) else f"#{position}"
        try:
            source = Source.model_validate(entry)
        except ValidationError as error:
            raise ConfigError(_describe(file, line, name, error)) from None
        if source.id in seen:
            raise ConfigError(
                f"{file}:{line}: source {source.id!r}: field 'id': duplicate id (first used on line {seen[source.id]})"
            )
        seen[source.id] = line
        _check_history_unique(file, line, source, histories)
        sources.append(source)
    return sources


def _check_history_unique(file: Path, line: object, source: Source, histories: dict[HistoryKey, str]) -> None:
    if source.history is None:
        return
    if source.history in histories:
        raise ConfigError(f"{file}:{line}: source {source.id!r}: field 'history': the same document as source "
                          f"{histories[source.history]!r}")
    histories[source.history] = source.id


CACHE_ENTRIES = 32
# The code whose rules a cached result was validated under: a new version or an edited checkout misses.
_VALIDATING_MODULES = ("sources.py", "urls.py", "yaml_loader.py")


class _SourcesCache:
    """The validated sources of one file, kept in $XDG_CACHE_HOME/clausewatch (else ~/.cache/clausewatch).

    Parsing and validating 1,000 sources takes about half a second, most of a cron run that finds nothing
    new; a hit takes milliseconds. An entry is used only when the file's bytes and the validating code are
    the ones it was made from (a SHA-256 of both), and only when this user owns it and nobody else may
    write it, since a hit skips validation. Any problem with the cache is a miss, never an error.
    """

    def __init__(self, file: Path, data: bytes) -> None:
        digest = hashlib.sha256(_validation_fingerprint())
        digest.update(data)
        self.digest = digest.hexdigest()
        name = hashlib.sha256(os.fsencode(file.resolve())).hexdigest()[:32]
        self.path = load_settings().cache_folder / f"sources-{name}.json"

    def read(self) -> list[Source] | None:
        try:
            with self.path.open("rb") as handle:
                status = os.fstat(handle.fileno())
                if status.st_uid != os.getuid() or status.st_mode & 0o022:
                    return None
                entry = json.loads(handle.read())
            if entry.get("digest") != self.digest:
                return None
            return [_construct(fields) for fields in entry["sources"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def write(self, sources: list[Source]) -> None:
        entry = {"digest": self.digest, "sources": [source.model_dump(mode="json") for source in sources]}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, suffix=".tmp", delete=False,
                                             encoding="utf-8") as handle:
                json.dump(entry, handle)
            os.replace(handle.name, self.path)
            _prune(self.path.parent)
        except OSError:
            return


def _validation_fingerprint() -> bytes:
    code = b"".join((_PACKAGE_DIR / module).read_bytes() for module in _VALIDATING_MODULES)
    # a source validated while a fetcher kind was registered is no longer valid once it is not
    kinds = " ".join(sorted(FETCHER_KINDS)).encode()
    return hashlib.sha256(code + pydantic.VERSION.encode() + kinds).digest()


def _construct(fields: dict) -> Source:
    """A Source from its cached, already validated fields (lists back to tuples)."""
    if set(fields) != set(Source.model_fields):
        raise KeyError("cached fields differ from Source's")
    values = {name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()}
    if values.get("history") is not None:
        values["history"] = HistoryKey.model_construct(**values["history"])
    return Source.model_construct(**values)


def _prune(folder: Path) -> None:
    """Keep the CACHE_ENTRIES newest entries (tests and moved files would otherwise leave them forever)."""
    entries = sorted(folder.glob("sources-*.json"), key=lambda entry: entry.stat().st_mtime, reverse=True)
    for stale in entries[CACHE_ENTRIES:]:
        stale.unlink(missing_ok=True)


def _describe(file: Path, line: object, name: str, error: ValidationError) -> str:
    """Every mistake of one entry, so that a second one is not found only after fixing the first."""
    return f"{file}:{line}: source {name!r}: " + "; ".join(_field_error(each) for each in error.errors())


def _field_error(each: dict) -> str:
    field = ".".join(str(part) for part in each["loc"] if not isinstance(part, int)) or "?"
    message = each["msg"].removeprefix("Value error, ")
    if each["type"] == "missing":
        message = "required field is missing"
    elif each["type"] == "extra_forbidden":
        message = "unknown field"
    return f"field {field!r}: {_one_line(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def find_source(sources: list[Source], source_id: str) -> Source:
    for source in sources:
        if source.id == source_id:
            return source
    raise ConfigError(f"no source with id {source_id!r} in the sources file")
