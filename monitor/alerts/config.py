"""Alert configuration: `clausewatch.yaml` in; validated channels, routes and outbox settings out.

Secrets are never written in the file: a field holds `${ENV_NAME}` and the value is read from the
environment when the file is loaded (monitor/alerts/secrets.py); it lives only in memory and is masked
wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.alerts.base import ChannelSettings, Notifier, registered_notifiers
from monitor.alerts.secrets import expand_secrets, mask_secrets, secrets_environment
from monitor.directions import ALERTING_DIRECTIONS as DEFAULT_DIRECTIONS
from monitor.durations import parse_duration
from monitor.errors import ConfigError
from monitor.settings import load_settings, variable
from monitor.yaml_loader import GuardedLoader, load_guarded
from monitor.clauses import CATEGORIES

CONFIG_ENV = variable("config_file")
NOTICE_TYPES = ("source_failing", "source_recovered", "selector_drift", "selector_recovered")
DEFAULT_HISTORY_PATH = "/sources/{source}/clauses/{key}"

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RouteSettings(BaseModel):
    """Which events go to which channels, and how soon."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    channels: list[str] = Field(min_length=1)
    sources: list[str] = []  # source ids; empty: every source
    providers: list[str] = []  # provider names, any case; empty: every provider
    categories: list[str] = []  # taxonomy ids; empty: every category
    uses: list[str] = []  # use ids (uses.yaml): the route gets only changes of these uses' answers
    directions: list[Literal["tightened", "loosened", "reworded", "unclear"]] = list(DEFAULT_DIRECTIONS)
    delivery: Literal["immediate", "digest"] = "immediate"
    digest: Literal["run", "day"] = "run"  # with delivery: digest, one message per run or per (UTC) day

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [category for category in value if category not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown category {unknown[0]!r} (one of: {', '.join(CATEGORIES)})")
        return value

    def matches(self, event: dict) -> bool:
        if self.uses:  # a subscription to uses: its messages are answer changes (monitor.alerts.answers)
            return False
        if self.sources and event["source"] not in self.sources:
            return False
        if self.providers and event["provider"].casefold() not in {p.casefold() for p in self.providers}:
            return False
        if self.categories and not set(self.categories) & set(event["categories"]):
            return False
        return event["direction"] in self.directions

    @property
    def delivery_mode(self) -> str:
        """What a notification row records: immediate, run or day."""
        return "immediate" if self.delivery == "immediate" else self.digest


class OperatorsSettings(BaseModel):
    """Where notices about the sources themselves go (failing, recovered): not clause alerts."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(min_length=1)
    notices: list[Literal["source_failing", "source_recovered", "selector_drift", "selector_recovered"]] = list(
        NOTICE_TYPES)


class OutboxSettings(BaseModel):
    """How failed deliveries are retried on later runs."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(10, ge=1)
    backoff: dt.timedelta = dt.timedelta(minutes=1)  # wait after the first failure, doubled each time
    backoff_max: dt.timedelta = dt.timedelta(hours=6)
    lease: dt.timedelta = dt.timedelta(minutes=15)  # a message claimed longer ago was lost in a crash

    @field_validator("backoff", "backoff_max", "lease", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> dt.timedelta:
        return value if isinstance(value, dt.timedelta) else parse_duration(value)


class _FileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    history_path: str = DEFAULT_HISTORY_PATH
    channels: dict[str, dict[str, Any]] = {}
    routes: list[RouteSettings] | None = None
    operators: OperatorsSettings | None = None
    outbox: OutboxSettings = OutboxSettings()

    @field_validator("history_path")
    @classmethod
    def _path_template(cls, value: str) -> str:
        try:
            value.format(source="s", key="k")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"{value!r} may use only {{source}} and {{key}} ({error})") from None
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with /")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value


@dataclass
class Channel:
    """One configured channel: its name, validated settings and the secrets read for it."""

    name: str
    settings: ChannelSettings
    secrets: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.settings.kind


@dataclass
class AlertsConfig:
    """The validated clausewatch.yaml."""

    path: Path
    channels: dict[str, Channel]
    routes: list[RouteSettings]
    operators: OperatorsSettings | None = None
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    base_url: str | None = None
    history_path: str = DEFAULT_HISTORY_PATH
    route_lines: list[Any] = field(default_factory=list, repr=False)  # each route's line in the file
    _notifiers: dict[str, Notifier] = field(default_factory=dict, repr=False)

    def check_route_sources(self, source_ids: set[str], sources_file: str) -> None:
        """Every source a route names is a source of the sources file: a mistyped id would route nothing."""
        for position, route in enumerate(self.routes):
            unknown = [source_id for source_id in route.sources if source_id not in source_ids]
            if unknown:
                line = self.route_lines[position] if position < len(self.route_lines) else "?"
                raise ConfigError(f"{self.path}:{line}: route {route.name or '#' + str(position + 1)!r}: "
                                  f"field 'sources': no source {', '.join(map(repr, unknown))} in {sources_file}")

    def notifier(self, name: str) -> Notifier:
        """The notifier of a configured channel (made once)."""
        if name not in self._notifiers:
            channel = self.channels[name]
            cls = registered_notifiers()[channel.kind]
            self._notifiers[name] = cls.from_settings(name, channel.settings, self)
        return self._notifiers[name]

    def history_url(self, source: str, key: str) -> str | None:
        if not self.base_url:
            return None
        return self.base_url + self.history_path.format(source=source, key=key)

    def secrets(self) -> list[str]:
        return [secret for channel in self.channels.values() for secret in channel.secrets if secret]

    def mask(self, text: str) -> str:
        """`text` with every secret of every channel replaced by ****."""
        return mask_secrets(text, self.secrets())

    def routes_for_event(self, event: dict) -> dict[str, str]:
        """Channel name -> delivery (immediate, run, day) for a change event; immediate wins."""
        chosen: dict[str, str] = {}
        for route in self.routes:
            if route.matches(event):
                for channel in route.channels:
                    if chosen.get(channel) != "immediate":
                        chosen[channel] = route.delivery_mode
        return chosen

    def routes_for_notice(self, notice: dict) -> dict[str, str]:
        if self.operators is None or notice["type"] not in self.operators.notices:
            return {}
        return {channel: "immediate" for channel in self.operators.channels}


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """The config file to use: the explicit path, else the `config_file` setting ($CLAUSEWATCH_CONFIG, else
    ./clausewatch.yaml)."""
    return Path(explicit or load_settings().config_file)


def load_alerts_config(path: str | os.PathLike | None = None,
                       environ: Mapping[str, str] | None = None) -> AlertsConfig | None:
    """Read and validate clausewatch.yaml; None when no file was named and ./clausewatch.yaml is absent.

    Raises ConfigError naming the file, line, channel or route and field of the first mistake.
    """
    named = path is not None or load_settings().is_set("config_file")
    file = config_path(path)
    if not file.exists():
        if named:
            raise ConfigError(f"{file}: no such config file (use --config PATH or {CONFIG_ENV})")
        return None
    return parse_alerts_config(file, file.read_text(encoding="utf-8"), environ)


def parse_alerts_config(file: Path, text: str, environ: Mapping[str, str] | None = None) -> AlertsConfig:
    """Validate the text of clausewatch.yaml; `${NAME}` secrets come from `environ` (by default the process's)."""
    environ = secrets_environment(environ)
    try:
        raw = load_guarded(text, _LineLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {_one_line(str(error))}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping with channels:, routes:, operators:")
    lines = raw.pop("__lines__", {})
    raw_channels = raw.get("channels") or {}
    if not isinstance(raw_channels, dict):
        raise ConfigError(f"{file}:{lines.get('channels', '?')}: field 'channels': expected a mapping of "
                          f"channel names to settings")
    channels = {str(name): _channel(file, str(name), entry, raw_channels.get("__lines__", {}).get(name, "?"),
                                    environ)
                for name, entry in raw_channels.items() if not str(name).startswith("__")}
    # routes, operators and outbox hold no secrets: validated as they are
    plain = {key: _strip_lines(value) for key, value in raw.items() if key not in ("channels", "__line__")}
    try:
        settings = _FileSettings.model_validate(plain)
    except ValidationError as error:
        raise ConfigError(_describe(file, raw, lines, error)) from None
    routes = settings.routes
    if routes is None:  # no routes: every channel gets the default subscription
        routes = [RouteSettings(name="default", channels=list(channels))] if channels else []
    for position, route in enumerate(routes):
        for name in route.channels:
            if name not in channels:
                line = _line_of(raw.get("routes"), position, lines.get("routes", "?"))
                raise ConfigError(f"{file}:{line}: route {route.name or '#' + str(position + 1)!r}: "
                                  f"field 'channels': no channel named {name!r} (channels: "
                                  f"{', '.join(channels) or 'none'})")
    _check_route_uses(file, raw, lines, routes)
    if settings.operators is not None:
        for name in settings.operators.channels:
            if name not in channels:
                raise ConfigError(f"{file}:{lines.get('operators', '?')}: operators: field 'channels': "
                                  f"no channel named {name!r}")
    route_lines = [_line_of(raw.get("routes"), position, lines.get("routes", "?")) for position in range(len(routes))]
    return AlertsConfig(path=file, channels=channels, routes=routes, operators=settings.operators,
                        outbox=settings.outbox, base_url=settings.base_url, history_path=settings.history_path,
                        route_lines=route_lines)


def _check_route_uses(file: Path, raw: dict, lines: dict, routes: list[RouteSettings]) -> None:
    """Every use a route names is a use of the uses file in force."""
    # only a config with use routes reads the uses registry (a cron run imports none of it)
    from monitor.uses.model import check_use_ids

    for position, route in enumerate(routes):
        problem = check_use_ids(route.uses) if route.uses else None
        if problem:
            line = _line_of(raw.get("routes"), position, lines.get("routes", "?"))
            raise ConfigError(f"{file}:{line}: route {route.name or '#' + str(position + 1)!r}: field 'uses': "
                              f"{problem}")


def _channel(file: Path, name: str, entry: Any, line: Any, environ: Mapping[str, str]) -> Channel:
    where = f"{file}:{line}: channel {name!r}"
    if not _CHANNEL_NAME.match(name):
        raise ConfigError(f"{where}: a channel name is letters, digits, '.', '_' and '-' (at most 100)")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping of fields (kind: ..., ...)")
    field_lines = entry.get("__lines__", {})
    entry = {key: value for key, value in entry.items() if not str(key).startswith("__")}
    kind = entry.get("kind")
    channel_classes = registered_notifiers()
    if kind not in channel_classes:
        known = ", ".join(sorted(channel_classes))
        raise ConfigError(f"{where}: field 'kind': {'missing' if kind is None else repr(kind) + ' is unknown'} "
                          f"(one of: {known})")
    cls = channel_classes[kind]
    secrets: list[str] = []
    values = {}
    for key, value in entry.items():
        at = f"{file}:{field_lines.get(key, line)}: channel {name!r}: field {key!r}"
        values[key], found = expand_secrets(_strip_lines(value), environ, at)
        if isinstance(values[key], float) and not math.isfinite(values[key]):
            raise ConfigError(f"{at}: {value} is not a finite number")
        secrets += found
        if key in cls.Settings.secret_fields and value and not found:
            raise ConfigError(f"{at}: a secret is read from the environment: write it as ${{ENV_NAME}}")
    try:
        settings = cls.Settings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        at = f"{file}:{field_lines.get(key, line)}: channel {name!r}: field {key!r}"
        raise ConfigError(f"{at}: {_message(first)}") from None
    # a value read from the environment is a secret wherever it appears (URLs with tokens included)
    return Channel(name, settings, secrets)


class _LineLoader(GuardedLoader):
    """A YAML loader that remembers the line of every key of every mapping, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        try:
            lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
        except Exception:  # an unhashable key: pydantic will name it
            continue
    mapping["__lines__"] = lines
    mapping.setdefault("__line__", node.start_mark.line + 1)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_lines(part) for key, part in value.items() if key not in ("__lines__", "__line__")}
    if isinstance(value, list):
        return [_strip_lines(part) for part in value]
    return value


def _line_of(items: Any, position: int, default: Any) -> Any:
    if isinstance(items, list) and position < len(items) and isinstance(items[position], dict):
        return items[position].get("__line__", default)
    return default


def _describe(file: Path, raw: dict, lines: dict, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = [part for part in first["loc"]]
    top = str(loc[0]) if loc else "?"
    line = lines.get(top, "?")
    where = top
    if top == "routes" and len(loc) > 1 and isinstance(loc[1], int):
        where = f"route #{loc[1] + 1}"
        line = _line_of(raw.get("routes"), loc[1], line)
        loc = loc[2:]
    else:
        loc = loc[1:]
    field_name = ".".join(str(part) for part in loc if not isinstance(part, int)) or top
    return f"{file}:{line}: {where}: field {field_name!r}: {_message(first)}"


def _message(first: dict) -> str:
    if first["type"] == "missing":
        return "required field is missing"
    if first["type"] == "extra_forbidden":
        return "unknown field"
    return _one_line(first["msg"].removeprefix("Value error, "))


def _one_line(text: str) -> str:
    return " ".join(text.split())
