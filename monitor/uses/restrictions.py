"""Restrictions: a use and a clause that forbids training on outputs or competing use in, the clause's verdict out
(its exceptions, consent, scope and the kinds of model it reaches weighed)."""

from __future__ import annotations

import re

from monitor.clauses import Clause
from monitor.uses.definitions import defined_term, definition_outcome
from monitor.uses.model import Use
from monitor.uses.reach import acts_on, model_fit, takes_object
from monitor.uses.verdict import (ALLOWED, CONDITIONAL, FORBIDDEN, UNCLEAR, CitedClause, Condition, Document, Verdict,
                                  cite, clause_name, feature_list)

__all__ = ["restriction_verdict"]

# Exception types that do not change whom or what a rule reaches (rules.yaml `boilerplate_exceptions`).
_BOILERPLATE = frozenset({"as permitted", "law"})
_CONSENT = "consent"
_DERIVATIVE_EXCLUSION = re.compile(r"\bexcluding (.+?) or derivative works", re.I)
_COMPETES_WITH = re.compile(r"\bcompet\w* with ([^,;.()]+)", re.I)


def restriction_verdict(use: Use, clause: Clause, document: Document) -> Verdict | None:
    features = clause.features or {}
    exceptions = [e for e in feature_list(features, "exceptions") if isinstance(e, dict)]
    if use.act == "evaluate":
        return _evaluation_verdict(clause, exceptions)
    if not acts_on(use, clause) or not takes_object(use, clause):
        return None
    fit, fit_text = model_fit(use, clause)
    if fit == "no":
        return None
    cited = (cite(clause, "restriction"),)
    if fit == "unclear":
        return Verdict(UNCLEAR, fit_text, cited)
    consent = ""
    notes: list[str] = []
    definitions: tuple[CitedClause, ...] = ()
    for exception in exceptions:
        kind = str(exception.get("type", ""))
        if kind in _BOILERPLATE:
            continue
        if kind == _CONSENT:
            written = _as_written(clause, exception.get("text", ""))
            named = re.search(r"\b([A-Z][\w-]+)[’']s\b|\bby ([A-Z][\w-]+)", written) or re.search(
                r"\bby ([A-Z][\w-]+)|\bfrom ([A-Z][\w-]+)", clause.text)
            who = next((group for group in named.groups() if group), None) if named else None
            consent = f" unless {who or document.provider} authorises it (“{written}”)"
            continue
        outcome = _exception_outcome(use, clause, exception, document)
        if outcome is None:
            continue
        if outcome.answer in (CONDITIONAL, ALLOWED, UNCLEAR):
            written = _as_written(clause, exception.get("text", ""))
            return Verdict(outcome.answer, f"{clause_name(clause)} forbids {_act_words(use)}, “{written}”: "
                           f"{outcome.reason}", cited + outcome.cited, outcome.conditions, outcome.definitions)
        notes.append(outcome.reason)
        cited += outcome.cited
        definitions += outcome.definitions
    note = (" " + " ".join(notes)) if notes else ""
    if features.get("scope") == "competing" and use.purpose != "competing":
        rival = _COMPETES_WITH.search(clause.text)
        rival_text = rival.group(1).strip() if rival else f"{document.provider}’s products or services"
        condition = f"the model does not compete with {rival_text} ({clause_name(clause)})"
        return Verdict(CONDITIONAL, f"{clause_name(clause)} forbids only competing models and products{consent}; this "
                       f"use's purpose is {use.purpose}.{note}", cited, (Condition("compete", condition),),
                       definitions)
    reach = "models or products that compete" if features.get("scope") == "competing" else "any model"
    if fit == "condition":
        return Verdict(CONDITIONAL, f"{clause_name(clause)} forbids this for some kinds of model only{consent}.{note}",
                       cited, (Condition("model", fit_text),), definitions)
    scope = f" ({reach})" if use.act in ("train", "fine-tune", "distil") else ""
    return Verdict(FORBIDDEN, f"{clause_name(clause)} forbids {_act_words(use)}{scope}{consent}.{note}", cited,
                   definitions=definitions)


def _as_written(clause: Clause, text: str) -> str:
    """A feature's text (the engine lower-cases it) as the clause writes it."""
    words = [re.escape(word) for word in str(text).split()]
    found = re.search(r"\W+".join(words), clause.text, re.I) if words else None
    return found.group(0) if found else str(text)


def _act_words(use: Use) -> str:
    return {"resell": f"reselling the {use.object}", "build-product": f"building products with the {use.object}"
            }.get(use.act, f"using the {use.object} to {use.act} a model")


def _evaluation_verdict(clause: Clause, exceptions: list[dict]) -> Verdict | None:
    """Evaluating is not building a model: a clause speaks to it only through an evaluation carve-out."""
    for exception in exceptions:
        if exception.get("type") == "evaluation carve-out":
            return Verdict(ALLOWED, f"{clause_name(clause)} carves out evaluation (“{exception.get('text', '')}”).",
                           (cite(clause, "exception"),))
    return None


def _exception_outcome(use: Use, clause: Clause, exception: dict, document: Document) -> Verdict | None:
    """Whether an exception of a restriction covers the use. None: it does not bear on the use."""
    kind, text = str(exception.get("type", "")), str(exception.get("text", ""))
    term = defined_term(clause, text, document)
    if term is not None:
        return definition_outcome(use, term, document.definitions[term], document)
    if kind == "permitted exception":
        return Verdict(UNCLEAR, f"{clause_name(clause)} excepts “{text}”, defined elsewhere: no clause of this "
                                f"version defines it.", ())
    if kind == "specific":
        excluded = _DERIVATIVE_EXCLUSION.search(_as_written(clause, text))
        if excluded is None:  # e.g. "other than allowing End Users to interface with ...": said, not applied
            return Verdict(FORBIDDEN, f"Its exception “{_as_written(clause, text)}” does not name this use.", ())
        if use.base_model == "provider":
            return Verdict(CONDITIONAL, f"{clause_name(clause)} excludes {excluded.group(1)} and its derivatives.", (),
                           (Condition("derivative", f"the model improved is {excluded.group(1)} or a derivative "
                                                    f"work of it ({clause_name(clause)})"),))
        return Verdict(FORBIDDEN, f"Its exception covers only {excluded.group(1)} and its derivatives.", ())
    if kind == "evaluation carve-out":
        return None
    if kind == "fine-tuning carve-out" and use.act == "fine-tune":
        return Verdict(UNCLEAR, f"{clause_name(clause)} has a carve-out (“{text}”) that may cover fine-tuning: read it.",
                       ())
    if kind in ("fine-tuning carve-out", "api key carve-out"):
        return None
    return Verdict(UNCLEAR, f"{clause_name(clause)} has an exception of a kind this check does not know ({kind!r}: "
                            f"“{text}”).", ())
