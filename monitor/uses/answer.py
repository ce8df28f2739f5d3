"""Answers: a use and the clauses of one version of one document in, an `Answer` out (pure: no database).

Every decision is made in the `uses` stage, from the clause's categories and the features the clause engine
extracted (objects, actions, model classes, scope, exceptions, bound parties, thresholds, territories), following
`clause-taxonomy.md`. Each clause that speaks to the use gives a `Verdict` (`restrictions.py` for a ban,
`grants.py` for a permission or a licence's condition); here a document's answer combines them:
one clause that forbids the use decides (`forbidden`); else one the features cannot decide makes the answer
`unclear` (with the reason: never a guess); else conditions are gathered (`conditional`); else an explicit
permission gives `allowed`; no clause that speaks to the use gives `not addressed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.clauses import Clause
from monitor.uses.definitions import find_definitions
from monitor.uses.grants import attribution_verdict, permission_verdict, territory_verdict, threshold_verdict
from monitor.uses.model import Use
from monitor.uses.restrictions import restriction_verdict
from monitor.uses.verdict import (ALLOWED, CONDITIONAL, FORBIDDEN, NOT_ADDRESSED, UNCLEAR, CitedClause, Document,
                                  Verdict)

__all__ = ["Answer", "answer_use", "combine"]

# A rule whose subject is a named party other than the user ("Perplexity shall not use Customer Content to
# train ...", "SpaceXAI will not use any User Content ...") is the provider's promise, not a limit on the user.
# The clause engine's `bound_party` feature, when a version carries it, decides instead.
_NAMED_SUBJECT = re.compile(r"^\W*(?:[\d.]+\s+)?(?:[A-Z][\w ]{0,40}?\.\s+)?([A-Z][A-Za-z]+)\s+"
                            r"(?:shall|will|may|must|does|agrees)\b")
_USER_WORDS = frozenset({"You", "Customer", "Customers", "User", "Users", "Licensee", "Developer", "Developers",
                         "Recipient", "Subscriber", "Company", "Client", "Partner", "Each", "Neither", "Nothing"})



@dataclass(frozen=True)
class Answer:
    """What one document says about one use. `basis` names the kinds of its conditions: two versions whose
    answers differ only in wording (a renumbered clause, "Llama 3.2" becoming "Llama 3.3") have the same."""

    answer: str
    clauses: tuple[CitedClause, ...] = ()
    conditions: tuple[str, ...] = ()
    definitions: tuple[CitedClause, ...] = ()
    reason: str = ""
    basis: tuple[str, ...] = ()


def answer_use(use: Use, clauses: Sequence[Clause], provider: str = "the provider") -> Answer:
    """The answer of one version of a document (all its clauses, in order) to a use."""
    document = Document(clauses, provider or "the provider", find_definitions(clauses))
    defining = {id(clause) for clause in document.definitions.values()}
    verdicts = [verdict for clause in clauses if clause.categories and id(clause) not in defining
                for verdict in [_clause_verdict(use, clause, document)] if verdict is not None]
    return combine(verdicts)


def combine(verdicts: Iterable[Verdict]) -> Answer:
    """A document's answer from its clauses' verdicts: forbidden > unclear > conditional > allowed."""
    verdicts = list(verdicts)
    for answer in (FORBIDDEN, UNCLEAR, CONDITIONAL, ALLOWED):
        deciding = [verdict for verdict in verdicts if verdict.answer == answer]
        if not deciding:
            continue
        if answer == CONDITIONAL:  # conditions of every clause hold together; allowed clauses are context
            deciding += [verdict for verdict in verdicts if verdict.answer == ALLOWED]
        conditions = _unique(condition for verdict in deciding for condition in verdict.conditions)
        if answer != CONDITIONAL:
            conditions = []
        return Answer(answer, tuple(_unique(c for verdict in deciding for c in verdict.cited)),
                      tuple(_unique(condition.text for condition in conditions)),
                      tuple(_unique(d for verdict in deciding for d in verdict.definitions)),
                      " ".join(_unique(verdict.reason for verdict in deciding)),
                      tuple(sorted({condition.kind for condition in conditions})))
    return Answer(NOT_ADDRESSED, reason="No watched clause of this version speaks to this use.")


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _clause_verdict(use: Use, clause: Clause, document: Document) -> Verdict | None:
    categories = set(clause.categories)
    if _binds_provider(clause):
        return None
    if "output_training_permission" in categories:
        return permission_verdict(use, clause, document)
    if categories & {"output_training", "competing_use"}:
        return restriction_verdict(use, clause, document)
    if "scale_threshold" in categories:
        return threshold_verdict(use, clause, document)
    if "geographic_restriction" in categories:
        return territory_verdict(use, clause)
    if "attribution_naming" in categories:
        return attribution_verdict(use, clause)
    return None


def _binds_provider(clause: Clause) -> bool:
    """Whether the clause is a promise the provider makes about its own conduct (it binds no user)."""
    bound = (clause.features or {}).get("bound_party")
    if isinstance(bound, str) and bound:
        return bound.lower() in ("provider", "the provider")
    subject = _NAMED_SUBJECT.match(clause.text)
    return bool(subject) and subject.group(1) not in _USER_WORDS
