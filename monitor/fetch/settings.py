"""Fetch settings: validated limits in, a frozen `FetchSettings` (and `FetchRequest`) out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor import __version__
from monitor.sources import Source

DEFAULT_CONTACT_URL = "https://github.com/clausewatch/clausewatch"


def default_user_agent(contact_url: str = DEFAULT_CONTACT_URL) -> str:
    return f"ClauseWatch/{__version__} (+{contact_url})"


class FetchSettings(BaseModel):
    """Limits and manners of one crawl run; every field has a default that suits a small crawl."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(20, ge=1, description="requests in flight overall")
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
            data = {**data, "user_agent": default_user_agent(contact)}
        return data

    @property
    def robots_token(self) -> str:
        """The product token matched against robots.txt `User-agent` lines ("ClauseWatch")."""
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass(frozen=True)
class FetchRequest:
    """One source to fetch, with the validators of the last body seen for a conditional GET; or, with `path`,
    a local file to read as a fetch of the source (`ingest`, `check-source --file`)."""

    source: Source
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None

    @property
    def fetcher(self) -> str:
        """The kind of fetcher that fetches this request (monitor.fetch.registry): the source's, or `file`."""
        return "file" if self.path is not None else self.source.fetcher


FETCH_ENV_PREFIX = "CLAUSEWATCH_FETCH_"


def fetch_settings_from_env(environ: dict[str, str] | None = None, **overrides: Any) -> FetchSettings:
    """FetchSettings from CLAUSEWATCH_FETCH_<FIELD> variables (e.g. CLAUSEWATCH_FETCH_PER_HOST=4),
    then explicit overrides; a bad value is a ConfigError naming the variable."""
    import os

    from pydantic import ValidationError

    from monitor.errors import ConfigError

    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in FetchSettings.model_fields:
        variable = FETCH_ENV_PREFIX + name.upper()
        if variable in environ:
            values[name] = environ[variable]
    values.update({name: value for name, value in overrides.items() if value is not None})
    try:
        return FetchSettings(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        source = f"{FETCH_ENV_PREFIX}{field.upper()}" if field in values and field not in overrides else f"--{field}"
        raise ConfigError(f"{source}: {first['msg']}") from None
