"""Answer history: a use and a document's versions (oldest first) in, the versions where its answer changed out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.clauses import Clause
from monitor.uses.answer import Answer, answer_use
from monitor.uses.model import Use


class _Version(Protocol):
    seq: int
    observed_at: dt.datetime
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class AnswerChange:
    """The answer from version `seq` on, and the answer before it (None for the first version)."""

    seq: int
    observed_at: dt.datetime
    answer: Answer
    previous: str | None


def answer_changes(use: Use, versions: Sequence[_Version], provider: str = "the provider") -> list[AnswerChange]:
    """The first version's answer, then each version whose answer differs from the one before.

    The answer is its word and the kinds of its conditions (`Answer.basis`): a clause that adds or drops a
    condition is a change; a renumbered clause or a renamed model version is not.
    """
    changes: list[AnswerChange] = []
    before: Answer | None = None
    previous: tuple[Clause, ...] | None = None
    for version in versions:
        if version.clauses == previous:  # most versions change no clause the answer reads
            continue
        previous = version.clauses
        answer = answer_use(use, version.clauses, provider)
        if before is None or _signature(answer) != _signature(before):
            changes.append(AnswerChange(version.seq, version.observed_at, answer,
                                        before.answer if before else None))
        before = answer
    return changes


def answer_changed(before: Answer | None, after: Answer) -> bool:
    """Whether a new version changes what a document says about a use (its answer or its conditions)."""
    return before is None or _signature(before) != _signature(after)


def _signature(answer: Answer) -> tuple[str, tuple[str, ...]]:
    return answer.answer, answer.basis
