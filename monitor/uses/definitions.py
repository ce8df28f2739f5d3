"""Definitions: the defined terms of the version being read, and whether an exception that relies on one
(“Permitted Exception” means (a) ... or (b) ...) covers a use, alternative by alternative."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from monitor.clauses import Clause
from monitor.uses.model import Use
from monitor.uses.reach import MODEL_BUILDING
from monitor.uses.verdict import ALLOWED, CONDITIONAL, FORBIDDEN, UNCLEAR, Condition, Document, Verdict, cite, clause_name
from monitor.clauses.classify import extract_features

__all__ = ["CONDITION_WORDS", "defined_term", "definition_outcome", "features_of",
           "find_definitions", "split_alternatives"]

_DEFINITION = re.compile(r'^\W*(?:[\d.]+\s*)?["“]([^"”]{2,80})["”]\s+(?:means|shall mean|refers to|has the meaning)\b')
_CAPITALISED_TERM = re.compile(r"\b([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")
_MARKER = re.compile(r"(?:^|[\s:;])\((\d{1,2}|[a-z]|[ivx]+)\)\s+")
CONDITION_WORDS = re.compile(r",?\s*\b(?:if(?! any\b)|provided that|as long as|so long as|only if|on condition that)\b"
                              r"\s+(.*)$", re.I)
_NOT_DISTRIBUTED = re.compile(r"\bnot\b.{0,40}\b(?:distribut\w*|made (?:\w+ )?available|sold|shared|offered)\b"
                              r".{0,60}\bthird[- ]part", re.I)
_ONLY_CLASSIFIERS = re.compile(r"\bclassif\w*|\bcategori[sz]\w*|\bembeddings?\b|\borgani[sz]e data\b", re.I)
_PROVIDER_PLATFORM = re.compile(r"\bprovided (?:as part of|through|by|within|via)\b|\b(?:within|through|via|on) "
                                r"(?:\w+[’']s |our |the )?(?:[\w-]+ )?(?:services|platform)\b", re.I)


def find_definitions(clauses: Sequence[Clause]) -> dict[str, Clause]:
    """Defined term (as written) -> the clause defining it (“Permitted Exception” means ...)."""
    found: dict[str, Clause] = {}
    for clause in clauses:
        match = _DEFINITION.match(clause.text)
        if match:
            found.setdefault(match.group(1).strip(), clause)
    return found


def defined_term(clause: Clause, exception_text: str, document: Document) -> str | None:
    """The defined term an exception relies on, when this version defines it."""
    linked = (clause.features or {}).get("defined_terms")
    candidates: list[str] = []
    for item in linked if isinstance(linked, (list, tuple)) else []:
        candidates.append(item.get("term", "") if isinstance(item, dict) else str(item))
    original = re.search(re.escape(exception_text), clause.text, re.I) if exception_text else None
    if original:
        candidates += _CAPITALISED_TERM.findall(original.group(0))
    for candidate in candidates:
        for term in document.definitions:
            if candidate.strip().casefold() in (term.casefold(), term.casefold() + "s"):
                return term
    return None


def definition_outcome(use: Use, term: str, definition: Clause, document: Document) -> Verdict:
    """An exception defined by another clause: its alternatives, and whether one covers the use."""
    cited = (cite(definition, "definition"),)
    body = _DEFINITION.sub("", definition.text, count=1)
    alternatives = split_alternatives(body)
    refusals, unreadable = [], []
    for label, text in alternatives:
        fits, conditions, why = _alternative_fits(use, text, document)
        name = f"{term} {label}" if label else term
        if fits:
            answer = CONDITIONAL if conditions else ALLOWED
            return Verdict(answer, f"“{term}” ({clause_name(definition)}{' ' + label if label else ''}) covers this use.",
                           cited, tuple(Condition(f"exception {name}", f"{name}: {condition}")
                                        for condition in conditions), cited)
        (refusals if fits is False else unreadable).append(f"{name} {why}")
    if unreadable:  # no alternative covers the use for sure, and one cannot be read against it
        return Verdict(UNCLEAR, f"“{term}” ({clause_name(definition)}): " + "; ".join(unreadable) + ".", cited,
                       definitions=cited)
    return Verdict(FORBIDDEN, f"“{term}” ({clause_name(definition)}) does not cover it: " + "; ".join(refusals) + ".",
                   cited, definitions=cited)


def split_alternatives(body: str) -> list[tuple[str, str]]:
    """(label, text) of each lettered alternative of a definition; one unlabelled one when there are none."""
    marks = list(_MARKER.finditer(body))
    if not marks:
        return [("", body.strip(" .;"))]
    out = []
    for position, mark in enumerate(marks):
        end = marks[position + 1].start() if position + 1 < len(marks) else len(body)
        text = re.sub(r"[;,]?\s*(?:and|or)?\s*$", "", body[mark.end():end].strip()).strip(" .;")
        out.append((f"({mark.group(1)})", text))
    return out


def _alternative_fits(use: Use, text: str, document: Document) -> tuple[bool | None, list[str], str]:
    """(fits, conditions, why not): does one alternative of a definition describe the use?"""
    description, condition = text, ""
    split = CONDITION_WORDS.search(text)
    if split:
        description, condition = text[:split.start()].strip(" ,"), split.group(1).strip(" .;")
    conditions = [description] + ([f"if {condition}"] if condition else [])
    if _ONLY_CLASSIFIERS.search(description):
        if use.model in ("llm", "small-model"):
            return False, [], "covers only models that categorize, classify or organize data"
    if _PROVIDER_PLATFORM.search(description) and use.platform != "provider":
        owner = re.search(r"\b([A-Z][\w-]+)[’']s\b", description)
        who = owner.group(1) if owner else document.provider
        return False, [], f"covers only work done inside {who}’s own services"
    if condition and _NOT_DISTRIBUTED.search(condition) and use.distribution == "third-parties":
        return False, [], "requires that the model is not distributed or made available to third parties"
    features = features_of(description)
    actions = set(features.get("actions_all") or features.get("actions") or [])
    if not actions:
        return None, [], f"(“{description}”) names no act this check can compare with the use"
    if not actions & MODEL_BUILDING:
        return False, [], "is about something other than building models"
    if use.act not in ("train", "fine-tune", "distil", "build-product"):
        return False, [], f"is about building models, not about {use.act}"
    return True, conditions, ""


def features_of(text: str) -> dict[str, Any]:
    return extract_features(text)
