"""Uses: `uses.yaml` (or command-line fields) in, validated `Use` objects out (one clear error per mistake)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.errors import ConfigError, UsageError
from monitor.settings import load_settings, setting_default, variable

# ./uses.yaml: the setting's default, used when it exists.
DEFAULT_USES_FILE = setting_default("uses_file")
USES_ENV = variable("uses_file")
SHIPPED_USES = Path(__file__).with_name("uses.yaml")

ACTS = ("train", "fine-tune", "distil", "evaluate", "embed", "classify", "build-product", "resell")
OBJECTS = ("outputs", "service", "weights", "materials")
MODELS = ("classifier", "embedding", "small-model", "llm", "any")
PURPOSES = ("internal", "commercial", "competing", "research", "unknown")
DISTRIBUTIONS = ("internal", "third-parties", "unknown")
PARTIES = ("you", "affiliates")
BASE_MODELS = ("provider", "other")
PLATFORMS = ("own", "provider")

# What people write for a value, as the issue and the seed articles word them, and the value it means.
_ALIASES = {
    "fine tune": "fine-tune", "finetune": "fine-tune", "distill": "distil", "build a product": "build-product",
    "build product": "build-product", "product": "build-product", "sell": "resell",
    "output": "outputs", "services": "service", "the service": "service", "model weights": "weights",
    "classifiers": "classifier", "embeddings": "embedding", "classifier or embedding": "classifier",
    "small model": "small-model", "large language model": "llm", "any model": "any",
    "to third parties": "third-parties", "third parties": "third-parties", "external": "third-parties",
    "public": "third-parties", "your affiliates": "affiliates", "self": "you",
    "the provider": "provider", "provider's": "provider", "own": "own",
}
_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
# Territory names as the clause engine writes them (`territories` feature).
_TERRITORIES = {"eu": "european union", "the eu": "european union", "eea": "european economic area",
                "uk": "united kingdom", "us": "united states", "usa": "united states"}


def _canonical(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = " ".join(value.strip().lower().replace("_", " ").split())
    return _ALIASES.get(text, text.replace(" ", "-"))


class Use(BaseModel):
    """A planned use of a provider's outputs, service, weights or materials: the question `can` answers.

    `base_model` says whose model is trained (`provider`: the provider's own model or a derivative of it, as
    when an open-weight model is fine-tuned on its own outputs); `platform` where the training runs
    (`provider`: inside the provider's own services, e.g. its fine-tuning or distillation offering).
    `based_in` (territories) and `monthly_active_users` settle territory and user-threshold clauses; left out,
    those clauses become conditions of the answer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_SLUG, max_length=120)
    act: Literal["train", "fine-tune", "distil", "evaluate", "embed", "classify", "build-product", "resell"]
    object: Literal["outputs", "service", "weights", "materials"]
    model: Literal["classifier", "embedding", "small-model", "llm", "any"] = "any"
    purpose: Literal["internal", "commercial", "competing", "research", "unknown"] = "unknown"
    distribution: Literal["internal", "third-parties", "unknown"] = "unknown"
    party: Literal["you", "affiliates"] = "you"
    base_model: Literal["provider", "other"] = "other"
    platform: Literal["own", "provider"] = "own"
    based_in: tuple[str, ...] = ()
    monthly_active_users: int | None = Field(default=None, ge=0)
    title: str = ""

    @field_validator("act", "object", "model", "purpose", "distribution", "party", "base_model", "platform",
                     mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return _canonical(value)

    @field_validator("based_in", mode="before")
    @classmethod
    def _territories(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            return tuple(_TERRITORIES.get(name, name) for name in (" ".join(str(item).lower().split())
                                                                    for item in value))
        return value

    def fields(self) -> dict[str, Any]:
        """The use as the JSON shape of uses.yaml (defaults left out)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"id": self.id, "act": self.act,
                                                                      "object": self.object}

    def describe(self) -> str:
        """One line: what the use does, in words."""
        words = {"build-product": "build a product", "third-parties": "to third parties", "llm": "LLM",
                 "small-model": "small model"}
        kind = words.get(self.model, self.model)
        model = "" if self.model == "any" else f" {'an' if kind[0] in 'aeiouAEIOUL' else 'a'} {kind}"
        parts = [f"{words.get(self.act, self.act)}{model} on the provider's {self.object}"]
        if self.purpose != "unknown":
            parts.append(f"for {self.purpose} purposes")
        if self.distribution != "unknown":
            parts.append("distributed to third parties" if self.distribution == "third-parties" else "kept internal")
        if self.base_model == "provider":
            parts.append("improving the provider's own model")
        if self.platform == "provider":
            parts.append("inside the provider's platform")
        return ", ".join(parts)


def uses_path(explicit: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The uses file to read and whether it was named: --uses, else $CLAUSEWATCH_USES, else ./uses.yaml,
    else the shipped examples."""
    settings = load_settings()
    named = explicit or (settings.uses_file if settings.is_set("uses_file") else None)
    if named:
        return Path(named), True
    local = Path(DEFAULT_USES_FILE)
    return (local if local.exists() else SHIPPED_USES), False


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_uses(path: str | os.PathLike | None = None) -> tuple[Path, list[Use]]:
    """The uses file in use and its validated uses; ConfigError naming file, line, use and field."""
    file, named = uses_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such uses file (use --uses PATH or {USES_ENV})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot read the uses file: {error}") from None
    return file, parse_uses(file, text)


def parse_uses(file: Path, text: str) -> list[Use]:
    try:
        raw = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {_one_line(str(error))}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("uses"), list):
        raise ConfigError(f"{file}: expected a top-level 'uses:' list")
    uses: list[Use] = []
    seen: dict[str, Any] = {}
    for position, entry in enumerate(raw["uses"], start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: use #{position}: expected a mapping of fields (id: ..., act: ...)")
        entry = dict(entry)
        line = entry.pop("__line__", "?")
        name = entry.get("id") if isinstance(entry.get("id"), str) else f"#{position}"
        try:
            use = Use.model_validate(entry)
        except ValidationError as error:
            raise ConfigError(f"{file}:{line}: use {name!r}: {describe_error(error)}") from None
        if use.id in seen:
            raise ConfigError(f"{file}:{line}: use {use.id!r}: field 'id': duplicate id (first used on line "
                              f"{seen[use.id]})")
        seen[use.id] = line
        uses.append(use)
    return uses


def use_from_fields(fields: dict[str, Any], use_id: str = "custom") -> Use:
    """A use given as fields (a web form, command-line options); UsageError naming the bad field."""
    entry = {key: value for key, value in fields.items() if value not in (None, "", [], ())}
    entry.setdefault("id", use_id)
    try:
        return Use.model_validate(entry)
    except ValidationError as error:
        raise UsageError(describe_error(error)) from None


def find_use(uses: list[Use], use_id: str, file: Path) -> Use:
    for use in uses:
        if use.id == use_id:
            return use
    known = ", ".join(use.id for use in uses) or "none"
    raise UsageError(f"no use {use_id!r} in {file} (uses: {known})")


def describe_error(error: ValidationError) -> str:
    """The first mistake of a validation error as `field 'x': message` (with the allowed values)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if not isinstance(part, int)) or "?"
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "literal_error":
        message = f"{first.get('input')!r} is not one of: {first['ctx']['expected'].replace(chr(39), '')}"
    else:
        message = first["msg"].removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"field {field!r}: {_one_line(message)}{more}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_use_ids(ids: list[str]) -> str | None:
    """None when every id is a use of the uses file in force, else the one-line problem (for clausewatch.yaml)."""
    file, uses = load_uses()
    known = {use.id for use in uses}
    unknown = [use_id for use_id in ids if use_id not in known]
    if unknown:
        return f"no use {unknown[0]!r} in {file} (uses: {', '.join(sorted(known)) or 'none'})"
    return None


__all__ = ["ACTS", "BASE_MODELS", "DISTRIBUTIONS", "MODELS", "OBJECTS", "PARTIES", "PLATFORMS", "PURPOSES",
           "SHIPPED_USES", "USES_ENV", "Use", "check_use_ids", "find_use", "load_uses", "parse_uses",
           "use_from_fields", "uses_path"]
