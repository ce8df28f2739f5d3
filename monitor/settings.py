"""Effective configuration: the environment and the command-line options in, every setting with its
value and origin (default / env / option), secrets masked, out. Pure: reads nothing but its arguments
(and whether the default files exist)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.fetch.settings import FETCH_ENV_PREFIX, FetchSettings, fetch_settings_from_env

ENV_PREFIX = "CLAUSEWATCH_"
MASK = "***"
DEFAULT = "default"
ENV = "env"
OPTION = "option"

# Query parameters of a database URL that carry secrets (libpq's `password`, `sslpassword`, ...).
_SECRET_WORDS = re.compile(r"pass|secret|token|key", re.IGNORECASE)


@dataclass(frozen=True)
class SettingSpec:
    """Where one setting can come from: its environment variable, its option, its default."""

    name: str
    env: str | None
    option: str | None
    default: Any
    help: str
    secret: bool = False


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


# The settings of the command line itself, in the order `clausewatch config` shows them. The option
# column names where the option lives: global options go before the command.
GENERAL_SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("database", "CLAUSEWATCH_DB", "--db", "sqlite:///clausewatch.db",
                "database URL (SQLite file or postgresql://)", secret=True),
    SettingSpec("sources_file", "CLAUSEWATCH_SOURCES", "--sources", "sources.yaml", "the sources file"),
    SettingSpec("config_file", "CLAUSEWATCH_CONFIG", "--config", "clausewatch.yaml",
                "alert channels and routes (used only when the file exists)"),
    SettingSpec("alerts_file", "CLAUSEWATCH_ALERTS_FILE", "--alerts-file (run, daemon, ingest)", "alerts.jsonl",
                "JSON-lines file alerts are appended to ('-' for none)"),
    SettingSpec("log_format", "CLAUSEWATCH_LOG_FORMAT", "--log-format", "human", "human or json (JSON lines)"),
    SettingSpec("verbose", "CLAUSEWATCH_VERBOSE", "-v/--verbose", False, "log INFO records, not only warnings"),
    SettingSpec("chromium", "CLAUSEWATCH_CHROMIUM", None, "chromium on PATH",
                "the Chromium binary of `fetcher: browser` sources"),
    SettingSpec("analysis_processes", "CLAUSEWATCH_ANALYSIS_PROCESSES", None, "one per core",
                "worker processes that extract, classify and store new pages in run, daemon and worker (0: none)"),
)

# Names the test suite reads; listed so `config` does not call them unknown.
_KNOWN_ELSEWHERE = {"CLAUSEWATCH_TEST_POSTGRES"}


def fetch_specs() -> tuple[SettingSpec, ...]:
    """One spec per FetchSettings field: CLAUSEWATCH_FETCH_<FIELD>; only concurrency has an option."""
    specs = []
    for name, field in FetchSettings.model_fields.items():
        default = field.default if name != "user_agent" else "ClauseWatch/<version> (+contact_url)"
        specs.append(SettingSpec(f"fetch.{name}", FETCH_ENV_PREFIX + name.upper(),
                                 "--concurrency (run, daemon)" if name == "concurrency" else None,
                                 default, field.description or ""))
    return tuple(specs)


def all_specs() -> tuple[SettingSpec, ...]:
    return GENERAL_SETTINGS + fetch_specs()


def mask_database_url(url: str) -> str:
    """The URL with its password (and any secret-looking query parameter) replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

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


def _resolve(spec: SettingSpec, environ: Mapping[str, str], options: Mapping[str, Any]) -> tuple[Any, str]:
    if _given(options.get(spec.name)):
        return options[spec.name], OPTION
    if spec.env and _given(environ.get(spec.env)):
        return environ[spec.env], ENV
    return spec.default, DEFAULT


def collect_settings(environ: Mapping[str, str], options: Mapping[str, Any] | None = None) -> list[Setting]:
    """Every setting in force for a command run with this environment and these command-line options.

    `options` maps setting names (`database`, `sources_file`, `config_file`, `log_format`, `verbose`,
    `alerts_file`, `fetch.concurrency`, ...) to the values given *on the command line*; values that
    click took from an environment variable belong in `environ`, not here, so the origin is right.
    A bad fetch setting raises the ConfigError that `run` would raise.
    """
    options = dict(options or {})
    settings: list[Setting] = []
    for spec in GENERAL_SETTINGS:
        value, origin = _resolve(spec, environ, options)
        value = _describe(spec.name, value, origin, environ, options)
        if spec.secret and isinstance(value, str):
            value = mask_database_url(value)
        settings.append(Setting(spec.name, value, origin, spec.env, spec.option, spec.help))

    fetch_options = {name.removeprefix("fetch."): value for name, value in options.items()
                     if name.startswith("fetch.") and _given(value)}
    effective = fetch_settings_from_env(dict(environ), **fetch_options)
    for spec in fetch_specs():
        field = spec.name.removeprefix("fetch.")
        _, origin = _resolve(spec, environ, options)
        settings.append(Setting(spec.name, getattr(effective, field), origin, spec.env, spec.option, spec.help))
    return settings


def _describe(name: str, value: Any, origin: str, environ: Mapping[str, str], options: Mapping[str, Any]) -> Any:
    """Defaults that depend on the working directory or on other settings, said as they apply."""
    if name == "verbose":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if name == "sources_file" and origin == DEFAULT:
        from monitor.sources import default_sources_path, describe_sources_file

        return describe_sources_file(default_sources_path())
    if name == "config_file" and origin == DEFAULT:
        return f"{value} ({'present' if Path(value).is_file() else 'absent: no alert channels'})"
    if name == "alerts_file" and origin == DEFAULT:
        config = options.get("config_file") or environ.get("CLAUSEWATCH_CONFIG") or "clausewatch.yaml"
        if Path(config).is_file():
            return "none (the channels of the config file carry the alerts)"
    if name == "analysis_processes" and origin == DEFAULT:
        import os

        return f"{os.cpu_count() or 1} (one per core)"
    if name == "chromium" and origin == DEFAULT:
        import shutil

        found = shutil.which("chromium") or shutil.which("chromium-browser")
        return found or "not found (browser sources will fail)"
    return value


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """CLAUSEWATCH_* variables that are no setting: typos, or secrets the alerts config refers to."""
    known = {spec.env for spec in all_specs() if spec.env} | _KNOWN_ELSEWHERE
    return sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
