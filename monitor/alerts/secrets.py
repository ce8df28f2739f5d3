"""Secrets of clausewatch.yaml: a field's `${ENV_NAME}` references in, the field with each value read from the
environment and the secrets read out; and those secrets masked in any text that is shown.

The variables a file refers to are no settings (their names are the operator's), so they are read through
`monitor.settings.environment()`, not the settings model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.errors import ConfigError
from monitor.settings import environment

MASK = "****"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secrets_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables `${NAME}` references are read from: the given ones (tests), else the process's."""
    return dict(environment() if environ is None else environ)


def expand_secrets(value: Any, environ: Mapping[str, str], where: str) -> tuple[Any, list[str]]:
    """Replace ${ENV} references in every string of `value`; returns the value and the secrets read."""
    found: list[str] = []

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        found.append(environ[name])
        return environ[name]

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _ENV_REFERENCE.sub(replace, item)
        if isinstance(item, list):
            return [walk(part) for part in item]
        if isinstance(item, dict):
            return {key: walk(part) for key, part in item.items()}
        return item

    return walk(value), found


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ****, the longest first (a secret may contain another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
