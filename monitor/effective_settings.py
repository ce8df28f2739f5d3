"""Effective settings: the environment and the command-line options in, every setting of `monitor.settings`
with its value and origin (default / env / option), secrets masked, out; what `clausewatch config` shows.
Reads nothing but its arguments (and whether the default files exist)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.settings import (ENV_PREFIX, Settings, fetch_settings_from_env, load_settings, setting_fields, shown,
                              variable)
from monitor.sources import default_sources_path, describe_sources_file

MASK = "***"
DEFAULT = "default"
ENV = "env"
OPTION = "option"

# Query parameters of a database URL that carry secrets (libpq's `password`, `sslpassword`, ...).
_SECRET_WORDS = re.compile(r"pass|secret|token|key", re.IGNORECASE)
# Names the test suite reads; listed so `config` does not call them unknown.
_KNOWN_ELSEWHERE = {"CLAUSEWATCH_TEST_POSTGRES"}


@dataclass(frozen=True)
class Setting:
    """One setting as it is in force: the value (masked when secret) and where it came from."""

    name: str
    value: Any
    origin: str  # default | env | option
    env: str | None
    option: str | None
    help: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "origin": self.origin, "env": self.env,
                "option": self.option, "help": self.help}


def mask_database_url(url: str) -> str:
    """The URL with its password (and any secret-looking query parameter) replaced by ***."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not a URL we can parse: hide whatever sits between '://' and '@', where a password would be.
        return re.sub(r"(://[^/@]*?):[^/@]*@", rf"\1:{MASK}@", url)
    if parsed.query:
        parsed = parsed.update_query_dict(
            {key: MASK if _SECRET_WORDS.search(key) else value for key, value in parsed.query.items()})
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", MASK)


def _given(value: Any) -> bool:
    return value is not None and value != "" and value != ()


def collect_settings(environ: Mapping[str, str], options: Mapping[str, Any] | None = None) -> list[Setting]:
    """Every setting in force for a command run with this environment and these command-line options.

    `options` maps setting names (`database`, `sources_file`, `config_file`, `log_format`, `verbose`,
    `alerts_file`, `fetch.concurrency`, ...) to the values given *on the command line*. A bad value raises
    the ConfigError that the command would raise.
    """
    options = {name: value for name, value in (options or {}).items() if _given(value)}
    loaded = load_settings(environ)
    fetch = fetch_settings_from_env(environ, **{name.removeprefix("fetch."): value for name, value in options.items()
                                                if name.startswith("fetch.")})
    settings: list[Setting] = []
    for name, field in setting_fields().items():
        env = variable(name)
        if name in options:
            value, origin = options[name], OPTION
        else:
            origin = ENV if _given(environ.get(env)) else DEFAULT
            value = getattr(fetch, name.removeprefix("fetch.")) if name.startswith("fetch.") else getattr(loaded, name)
        if origin == DEFAULT:
            value = _describe_default(name, value, loaded, options)
        if shown(field).secret and isinstance(value, str):
            value = mask_database_url(value)
        settings.append(Setting(name, value, origin, env, shown(field).option, field.description or ""))
    return settings


def _describe_default(name: str, value: Any, loaded: Settings, options: Mapping[str, Any]) -> Any:
    """Defaults that depend on the working directory, the machine or other settings, said as they apply."""
    if name == "sources_file":
        return describe_sources_file(default_sources_path())
    if name in ("config_file", "uses_file"):
        absent = "no alert channels" if name == "config_file" else "the shipped examples"
        return f"{value} ({'present' if Path(value).is_file() else 'absent: ' + absent})"
    if name == "alerts_file" and Path(options.get("config_file") or loaded.config_file).is_file():
        return "none (the channels of the config file carry the alerts)"
    if name == "analysis_processes":
        return f"{loaded.analysis_workers} (one per core)"
    if name == "chromium":
        return loaded.chromium_binary() or "not found (browser sources will fail)"
    if name == "rules_file":
        return "the shipped rules"
    if name == "cache_home":
        return str(loaded.cache_folder.parent)
    return value


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """CLAUSEWATCH_* variables that are no setting: typos, or secrets the alerts config refers to."""
    known = {variable(name) for name in setting_fields()} | _KNOWN_ELSEWHERE
    return sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
