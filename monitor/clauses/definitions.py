"""Definitions: a version's clauses in, the terms it defines (and their definitions) and the clauses using them out.

A restriction on "Outputs" or "Model Derivatives" reaches as far as the definition of that term: a change to
the definition changes the rule, although the restriction's own words stay the same.
"""

from __future__ import annotations

import re

from monitor.clauses import Clause

# '"Output" means ...', '(b) “Model Derivatives” shall mean ...', '“Permitted Exception” refers to ...'
_DEFINITION = re.compile(
    r"^\W*(?:\(?[a-zA-Z0-9]{1,4}[.)]\s+)?[\"“]([A-Z][^\"”]{0,60})[\"”](?:\s+or\s+[\"“][^\"”]{1,60}[\"”])?\s+"
    r"(?:means|shall mean|refers to|includes|has the meaning)\b")


def defined_term(text: str) -> str | None:
    """The term a definition clause defines, or None when the clause defines nothing."""
    match = _DEFINITION.match(text)
    return match.group(1).strip() if match else None


def definitions_of(clauses: list[Clause]) -> dict[str, Clause]:
    """Each defined term with the clause that defines it (the first, when a document defines a term twice)."""
    found: dict[str, Clause] = {}
    for clause in clauses:
        term = defined_term(clause.text)
        if term and term not in found:
            found[term] = clause
    return found


def uses_term(text: str, term: str) -> bool:
    """Whether a clause uses a defined term as written (capitalised, singular or plural)."""
    stem = re.escape(term.rstrip("s"))
    return bool(re.search(rf"(?<![\w\"“]){stem}s?\b", text)) and defined_term(text) != term
