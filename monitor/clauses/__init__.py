"""Clause stage: a normalised document in, its classified `Clause`s out; clauses aligned across versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESTRICTIVE_CATEGORIES = (
    "output_training",
    "competing_use",
    "reverse_engineering",
    "automated_extraction",
    "access_circumvention",
)
PERMISSIVE_CATEGORIES = ("output_training_permission",)
LICENSE_CATEGORIES = ("scale_threshold", "attribution_naming", "use_policy", "geographic_restriction")
CATEGORIES = RESTRICTIVE_CATEGORIES + PERMISSIVE_CATEGORIES + LICENSE_CATEGORIES


@dataclass(frozen=True)
class Clause:
    """One rule of a document.

    `key` is stable across versions once aligned; `path` is the section path as the
    document numbers it (`3.3(e)`, `D.4`, `2 > bullet 3`); `rules` are the ids of the
    classification rules that fired; `features` holds object/action/scope/exceptions/
    parties/thresholds/territories as found in the text.
    """

    key: str
    path: str
    heading: str
    text: str
    categories: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    features: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def watched(self) -> bool:
        return bool(self.categories)
