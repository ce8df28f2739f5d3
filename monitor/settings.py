"""Settings: the environment (`CLAUSEWATCH_*` variables) in, one validated `Settings` with every default out.

pydantic-settings reads the variables, once per process: `load_settings()` validates the environment the
first time and answers from its cache after that (a test that changes the environment gets its own). Every
stage takes its values from here; an explicit argument (a command-line option) wins over the environment.
This is the one module of `monitor/` that reads `os.environ` (tests/test_settings_once.py checks it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from monitor import __version__
from monitor.errors import ConfigError

ENV_PREFIX = "CLAUSEWATCH_"
FETCH_ENV_PREFIX = ENV_PREFIX + "FETCH_"
DEFAULT_CONTACT_URL = "https://github.com/clausewatch/clausewatch"


def default_user_agent(contact_url: str = DEFAULT_CONTACT_URL) -> str:
    return f"ClauseWatch/{__version__} (+{contact_url})"


@dataclass(frozen=True)
class Shown:
    """How `clausewatch config` shows a setting: the option that sets it (and where that option goes), and
    whether its value is a secret to mask."""

    option: str | None = None
    secret: bool = False


def unfit_for_a_header(value: str) -> str | None:
    """The first character of `value` that is not printable ASCII (what an HTTP header carries as it is), if any."""
    return next((character for character in value if not " " <= character <= "~"), None)


class FetchSettings(BaseModel):
    """Limits and manners of one crawl run; every field has a default that suits a small crawl.

    Each is also a setting: CLAUSEWATCH_FETCH_<FIELD> (for example CLAUSEWATCH_FETCH_PER_HOST=4).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: Annotated[int, Shown("--concurrency (run, daemon)")] = Field(
        20, ge=1, description="requests in flight overall")
    per_host: int = Field(2, ge=1, description="requests in flight per host")
    per_host_delay: float = Field(0.0, ge=0, description="seconds between request starts to one host")
    connect_timeout: float = Field(10, gt=0)
    read_timeout: float = Field(20, gt=0)
    total_timeout: float = Field(60, gt=0, description="one attempt: every hop's request and body")
    overall_timeout: float = Field(
        300, gt=0, description="one source: all attempts and retry waits, not time queued behind others"
    )
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="body limit, also after decompression")
    retries: int = Field(2, ge=0, description="extra attempts after a transient failure")
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(30, ge=0)
    max_retry_after: float = Field(120, ge=0, description="longest Retry-After honoured inside a run")
    user_agent: str = Field(min_length=1)
    contact_url: str = DEFAULT_CONTACT_URL
    respect_robots: bool = True

    @model_validator(mode="before")
    @classmethod
    def _default_user_agent(cls, data: Any) -> Any:
        # The default agent names the contact URL, so it is built from that field.
        if isinstance(data, dict) and not data.get("user_agent"):
            contact = data.get("contact_url") or DEFAULT_CONTACT_URL
            if unfit_for_a_header(str(contact)):  # the contact_url's own check names it
                contact = DEFAULT_CONTACT_URL
            data = {**data, "user_agent": default_user_agent(contact)}
        return data

    @field_validator("user_agent", "contact_url")
    @classmethod
    def _fits_a_header(cls, value: str) -> str:
        # Both go out in the User-Agent header, which every request would otherwise fail to encode.
        unfit = unfit_for_a_header(value)
        if unfit is not None:
            raise ValueError(f"{unfit!r} cannot go in an HTTP header: use printable ASCII only")
        return value

    @property
    def robots_token(self) -> str:
        """The product token matched against robots.txt `User-agent` lines ("ClauseWatch")."""
        return self.user_agent.split("/", 1)[0].split()[0]


class Settings(BaseSettings):
    """Every setting, with its environment variable, default and meaning, in the order `config` shows them."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1,
                                      extra="ignore", frozen=True)

    database: Annotated[str, Shown("--db", secret=True)] = Field(
        "sqlite:///clausewatch.db", validation_alias="CLAUSEWATCH_DB",
        description="database URL (SQLite file or postgresql://)")
    sources_file: Annotated[str, Shown("--sources")] = Field(
        "sources.yaml", validation_alias="CLAUSEWATCH_SOURCES",
        description="the sources file (by default ./sources.yaml when it exists, else the shipped registry)")
    config_file: Annotated[str, Shown("--config")] = Field(
        "clausewatch.yaml", validation_alias="CLAUSEWATCH_CONFIG",
        description="alert channels and routes (used only when the file exists)")
    alerts_file: Annotated[str, Shown("--alerts-file (run, daemon, ingest)")] = Field(
        "alerts.jsonl", validation_alias="CLAUSEWATCH_ALERTS_FILE",
        description="JSON-lines file alerts are appended to ('-' for none)")
    log_format: Annotated[Literal["human", "json"], Shown("--log-format")] = Field(
        "human", validation_alias="CLAUSEWATCH_LOG_FORMAT", description="human or json (JSON lines)")
    verbose: Annotated[bool, Shown("-v/--verbose")] = Field(
        False, validation_alias="CLAUSEWATCH_VERBOSE", description="log INFO records, not only warnings")
    chromium: str | None = Field(
        None, validation_alias="CLAUSEWATCH_CHROMIUM",
        description="the Chromium binary of `fetcher: browser` sources (by default chromium on PATH)")
    analysis_processes: int | None = Field(
        None, ge=0, validation_alias="CLAUSEWATCH_ANALYSIS_PROCESSES",
        description="worker processes that extract, classify and store new pages in run, daemon and worker "
                    "(0: none; by default one per core)")
    uses_file: Annotated[str, Shown("--uses (can)")] = Field(
        "uses.yaml", validation_alias="CLAUSEWATCH_USES",
        description="the planned uses `can` answers for (by default ./uses.yaml when it exists, else the "
                    "shipped examples)")
    rules_file: str | None = Field(
        None, validation_alias="CLAUSEWATCH_RULES",
        description="clause rules in place of the shipped ones (monitor/clauses/rules.yaml)")
    cache_home: str | None = Field(
        None, validation_alias="XDG_CACHE_HOME",
        description="the validated sources files are cached in its clausewatch folder (by default ~/.cache)")
    fetch: FetchSettings = Field(default_factory=FetchSettings)

    @field_validator("analysis_processes", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().isdigit():
                raise ValueError("expected a whole number of processes (0 for none)")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings() passes in: it reads the variables (of os.environ, or those a test gives),
        # so no other source (os.environ itself, .env files, secrets folders) slips past its cache.
        return (init_settings,)

    def is_set(self, name: str) -> bool:
        """Whether the environment gave this setting (a file named by its variable must exist, say)."""
        return name in self.model_fields_set

    @property
    def cache_folder(self) -> Path:
        return Path(self.cache_home or os.path.join(os.path.expanduser("~"), ".cache")) / "clausewatch"

    @property
    def analysis_workers(self) -> int:
        """The analysis processes to start: the setting, by default one per core."""
        return (os.cpu_count() or 1) if self.analysis_processes is None else self.analysis_processes

    def chromium_binary(self) -> str | None:
        """The Chromium to drive: the setting, by default `chromium` (or `chromium-browser`) on the PATH."""
        return self.chromium or shutil.which("chromium") or shutil.which("chromium-browser")


def setting_fields() -> dict[str, FieldInfo]:
    """Every setting by the name `config` shows (`database`, ..., `fetch.per_host`), in its order."""
    fields = {name: field for name, field in Settings.model_fields.items() if name != "fetch"}
    return fields | {f"fetch.{name}": field for name, field in FetchSettings.model_fields.items()}


def variable(name: str) -> str:
    """The environment variable of a setting: `database` -> CLAUSEWATCH_DB, `fetch.retries` ->
    CLAUSEWATCH_FETCH_RETRIES."""
    if name.startswith("fetch."):
        return FETCH_ENV_PREFIX + name.removeprefix("fetch.").upper()
    return str(Settings.model_fields[name].validation_alias)


def setting_default(name: str) -> Any:
    """A setting's default, for the stages that name it (./sources.yaml is used when it exists, ...)."""
    return setting_fields()[name].default


def shown(field: FieldInfo) -> Shown:
    return next((item for item in field.metadata if isinstance(item, Shown)), Shown())


VARIABLES = tuple(variable(name) for name in setting_fields())


def environment() -> Mapping[str, str]:
    """The process environment, for what is no setting: the `${NAME}` secrets clausewatch.yaml refers to,
    and the CLAUSEWATCH_* variables `config` names as unknown."""
    return os.environ


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of `environ` (by default the process environment), validated once for each set of values.

    A bad value is a ConfigError naming its variable.
    """
    source = os.environ if environ is None else environ
    return _validated(tuple((name, value) for name in VARIABLES if (value := source.get(name))))


class _VariablesSource(EnvSettingsSource):
    """pydantic-settings' reading of environment variables, over given variables instead of os.environ."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = variables
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The hook pydantic-settings' own .env source overrides; names are matched in lower case.
        return {name.lower(): value for name, value in self._variables.items()}


@lru_cache(maxsize=8)
def _validated(variables: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings(**_VariablesSource(dict(variables))())
    except ValidationError as error:
        raise _config_error(error) from None


def _config_error(error: ValidationError) -> ConfigError:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]] or ["?"]
    if location[0] == "fetch" and len(location) > 1:
        name = variable(f"fetch.{location[1]}")
    else:  # a setting's location is its variable (the field's alias)
        name = location[0]
    secret = any(shown(field).secret for setting, field in setting_fields().items() if variable(setting) == name)
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(f"{name}: {message}" + ("" if secret else f", got {first['input']!r}"))


def fetch_settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> FetchSettings:
    """The fetch settings of the environment (CLAUSEWATCH_FETCH_<FIELD>), then the explicit overrides (the
    command line's --concurrency); a bad value is a ConfigError naming the variable or the option."""
    settings = load_settings(environ).fetch
    given = {name: value for name, value in overrides.items() if value is not None}
    if not given:
        return settings
    # A default user agent is made from the contact URL: made again if an override changes that URL.
    derived = {"user_agent"} if settings.user_agent == default_user_agent(settings.contact_url) else set()
    try:
        return FetchSettings(**settings.model_dump(exclude=derived) | given)
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
