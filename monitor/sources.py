"""Sources stage: `sources.yaml` in, validated `Source` objects out (one clear error per mistake)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.errors import ConfigError
from monitor.urls import parse_disagreement
from monitor.yaml_loader import GuardedLoader, load_guarded

DEFAULT_SOURCES_FILE = "sources.yaml"
SOURCES_ENV = "CLAUSEWATCH_SOURCES"

_INTERVAL = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
MAX_INTERVAL = dt.timedelta(days=36600)
MAX_URL_LENGTH = 4000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_interval(text: str) -> dt.timedelta | None:
    """'30m', '12h', '1d' -> timedelta; None when the text is not an interval, ValueError past MAX_INTERVAL."""
    match = _INTERVAL.match(text.strip())
    if not match:
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_INTERVAL.total_seconds():  # also keeps timedelta from overflowing
        raise ValueError(f"interval {text.strip()!r} is longer than {MAX_INTERVAL.days} days")
    return dt.timedelta(seconds=seconds)


def _check_schedule(value: str) -> str:
    if parse_interval(value) is not None:
        if parse_interval(value) < dt.timedelta(minutes=1):
            raise ValueError(f"interval {value!r} is shorter than one minute")
        return value
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValueError(
            f"{value!r} is neither an interval (30m, 12h, 1d) nor a cron expression ({error})"
        ) from None
    return value


def _check_selector(value: str) -> str:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as error:
        raise ValueError(f"bad CSS selector {value!r}: {error}") from None
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
    fetcher: Literal["http", "browser"] = "http"
    allow_private: bool = False  # the URL's own host and port may be a private or loopback address
    allow_private_redirects: bool = False  # so may any other host the page redirects to or loads from
    respect_robots: bool = True

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
SHIPPED_SOURCES_CANDIDATES = (_PACKAGE_DIR / "_registry" / DEFAULT_SOURCES_FILE,
                              _PACKAGE_DIR.parent / DEFAULT_SOURCES_FILE)


def shipped_sources_file() -> Path | None:
    """The shipped registry, or None when this installation has none."""
    return next((candidate for candidate in SHIPPED_SOURCES_CANDIDATES if candidate.is_file()), None)


def default_sources_path() -> Path:
    """./sources.yaml when it exists, else the shipped registry."""
    local = Path(DEFAULT_SOURCES_FILE)
    return local if local.is_file() else shipped_sources_file() or local


def sources_path(explicit: str | os.PathLike | None = None) -> Path:
    """The sources file to use: the explicit path, else $CLAUSEWATCH_SOURCES, else ./sources.yaml if it
    exists, else the shipped registry."""
    chosen = explicit or os.environ.get(SOURCES_ENV)
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
    """Read and validate a sources file; raise ConfigError naming file, line, source and field."""
    file = sources_path(path)
    try:
        raw = load_guarded(file.read_text(encoding="utf-8"), _LineLoader)
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such sources file (use --sources PATH or {SOURCES_ENV})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid YAML: {_one_line(str(error))}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise ConfigError(f"{file}: expected a top-level 'sources:' list")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(raw["sources"], start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: source #{position}: expected a mapping of fields")
        line = entry.pop("__line__", "?")
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
        sources.append(source)
    return sources


def _describe(file: Path, line: object, name: str, error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if not isinstance(part, int)) or "?"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{file}:{line}: source {name!r}: field {field!r}: {_one_line(message)}{more}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def find_source(sources: list[Source], source_id: str) -> Source:
    for source in sources:
        if source.id == source_id:
            return source
    raise ConfigError(f"no source with id {source_id!r} in the sources file")
