"""Verdicts: what one clause says about a use (`Verdict`: an answer, its reason, the clauses cited and the
conditions), with the document being read and the helpers every kind of clause is read with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.clauses import Clause

__all__ = ["ALLOWED", "ANSWERS", "CONDITIONAL", "FORBIDDEN", "NOT_ADDRESSED", "UNCLEAR", "CitedClause", "Condition",
           "Document", "Verdict", "cite", "clause_name", "feature_list"]

FORBIDDEN, UNCLEAR, CONDITIONAL, ALLOWED, NOT_ADDRESSED = (
    "forbidden", "unclear", "conditional", "allowed", "not addressed")
ANSWERS = (FORBIDDEN, UNCLEAR, CONDITIONAL, ALLOWED, NOT_ADDRESSED)


@dataclass(frozen=True)
class CitedClause:
    """A clause an answer rests on: its key, section path, text and the part it plays."""

    key: str
    path: str
    text: str
    role: str  # restriction | permission | exception | definition | condition

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "path": self.path, "text": self.text, "role": self.role}


@dataclass(frozen=True)
class Condition:
    """One condition of an answer: its kind (what sort of rule it comes from) and its words."""

    kind: str  # compete | model | exception | derivative | naming | permission | threshold | territory | notice
    text: str


@dataclass(frozen=True)
class Verdict:
    """What one clause says about the use."""

    answer: str
    reason: str
    cited: tuple[CitedClause, ...]
    conditions: tuple[Condition, ...] = ()
    definitions: tuple[CitedClause, ...] = ()


@dataclass(frozen=True)
class Document:
    """The clauses of the version being read, with what lookups need."""

    clauses: Sequence[Clause]
    provider: str
    definitions: dict[str, Clause] = field(default_factory=dict)


def cite(clause: Clause, role: str) -> CitedClause:
    return CitedClause(clause.key, clause.path, clause.text, role)


def clause_name(clause: Clause) -> str:
    return clause.path or clause.key


def feature_list(features: dict[str, Any], key: str) -> list[Any]:
    value = features.get(key)
    return list(value) if isinstance(value, (list, tuple)) else []
