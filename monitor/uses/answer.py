"""Answers: a use and the clauses of one version of one document in, an `Answer` out (pure: no database).

Every decision is made here, from the clause's categories and the features the clause engine extracted
(objects, actions, model classes, scope, exceptions, bound parties, thresholds, territories), following
`clause-taxonomy.md`. Each clause that speaks to the use gives a `Verdict`; a document's answer combines them:
one clause that forbids the use decides (`forbidden`); else one the features cannot decide makes the answer
`unclear` (with the reason: never a guess); else conditions are gathered (`conditional`); else an explicit
permission gives `allowed`; no clause that speaks to the use gives `not addressed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.clauses import Clause
from monitor.uses.model import Use

FORBIDDEN, UNCLEAR, CONDITIONAL, ALLOWED, NOT_ADDRESSED = (
    "forbidden", "unclear", "conditional", "allowed", "not addressed")
ANSWERS = (FORBIDDEN, UNCLEAR, CONDITIONAL, ALLOWED, NOT_ADDRESSED)

# The feature actions that count as doing each act (the engine's `actions` vocabulary, rules.yaml).
_MODEL_BUILDING = frozenset({"develop", "train", "improve", "distill"})
ACT_ACTIONS = {
    "train": _MODEL_BUILDING, "fine-tune": _MODEL_BUILDING, "distil": _MODEL_BUILDING,
    "build-product": frozenset({"develop"}),
    "resell": frozenset({"resell", "sell", "distribute", "grant access"}),
    "evaluate": frozenset(), "embed": frozenset(), "classify": frozenset(),
}
# The feature objects that name what the use takes. Outputs are had through the service, so a clause on
# using the service to train models covers training on its outputs too.
USE_OBJECTS = {
    "outputs": frozenset({"outputs", "data", "services", "training datasets"}),
    "service": frozenset({"services"}),
    "weights": frozenset({"weights", "models", "materials"}),
    "materials": frozenset({"materials", "weights"}),
}
# Objects that are someone else's (a clause on them is not about what the provider gives you).
_FOREIGN_OBJECTS = frozenset({"third-party content"})
# Which of the use's model kinds each feature model class covers.
MODEL_CLASS_COVERS = {
    "AI models": frozenset({"classifier", "embedding", "small-model", "llm"}),
    "models or products": frozenset({"classifier", "embedding", "small-model", "llm"}),
    "large language model": frozenset({"llm"}),
    "image generation": frozenset(),
}
MODEL_CLASS_WORDS = {"large language model": "a large language model", "image generation": "an image generation model"}
# Exception types that do not change whom or what a rule reaches (rules.yaml `boilerplate_exceptions`).
_BOILERPLATE = frozenset({"as permitted", "law"})
_CONSENT = "consent"

_DEFINITION = re.compile(r'^\W*(?:[\d.]+\s*)?["“]([^"”]{2,80})["”]\s+(?:means|shall mean|refers to|has the meaning)\b')
_CAPITALISED_TERM = re.compile(r"\b([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")
_MARKER = re.compile(r"(?:^|[\s:;])\((\d{1,2}|[a-z]|[ivx]+)\)\s+")
_CONDITION_WORDS = re.compile(r",?\s*\b(?:if(?! any\b)|provided that|as long as|so long as|only if|on condition that)\b"
                              r"\s+(.*)$", re.I)
_BOILERPLATE_CONDITION = re.compile(r"\b(?:legal|lawful|applicable laws?|these terms|this agreement)\b", re.I)
_NOT_DISTRIBUTED = re.compile(r"\bnot\b.{0,40}\b(?:distribut\w*|made (?:\w+ )?available|sold|shared|offered)\b"
                              r".{0,60}\bthird[- ]part", re.I)
_ONLY_CLASSIFIERS = re.compile(r"\bclassif\w*|\bcategori[sz]\w*|\bembeddings?\b|\borgani[sz]e data\b", re.I)
_PROVIDER_PLATFORM = re.compile(r"\bprovided (?:as part of|through|by|within|via)\b|\b(?:within|through|via|on) "
                                r"(?:\w+[’']s |our |the )?(?:[\w-]+ )?(?:services|platform)\b", re.I)
_IF_DISTRIBUTED = re.compile(r"\b(?:which|that) (?:is|are) distributed or made available\b|\bif you distribute\b",
                             re.I)
_DUTY = re.compile(r"\byou (?:shall|must|will need to|are required to)\s+(?:also\s+)?(.+?)(?:[.;]\s*$|$)", re.I)
_DERIVATIVE_EXCLUSION = re.compile(r"\bexcluding (.+?) or derivative works", re.I)
_WITH_RESPECT_TO = re.compile(r"^\W*with respect to ([^,]+),", re.I)
_MAU = "monthly active users"
_COMPETES_WITH = re.compile(r"\bcompet\w* with ([^,;.()]+)", re.I)
# A rule whose subject is a named party other than the user ("Perplexity shall not use Customer Content to
# train ...", "SpaceXAI will not use any User Content ...") is the provider's promise, not a limit on the user.
# The clause engine's `bound_party` feature, when a version carries it, decides instead.
_NAMED_SUBJECT = re.compile(r"^\W*(?:[\d.]+\s+)?(?:[A-Z][\w ]{0,40}?\.\s+)?([A-Z][A-Za-z]+)\s+"
                            r"(?:shall|will|may|must|does|agrees)\b")
_USER_WORDS = frozenset({"You", "Customer", "Customers", "User", "Users", "Licensee", "Developer", "Developers",
                         "Recipient", "Subscriber", "Company", "Client", "Partner", "Each", "Neither", "Nothing"})


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
class Answer:
    """What one document says about one use. `basis` names the kinds of its conditions: two versions whose
    answers differ only in wording (a renumbered clause, "Llama 3.2" becoming "Llama 3.3") have the same."""

    answer: str
    clauses: tuple[CitedClause, ...] = ()
    conditions: tuple[str, ...] = ()
    definitions: tuple[CitedClause, ...] = ()
    reason: str = ""
    basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What one clause says about the use."""

    answer: str
    reason: str
    cited: tuple[CitedClause, ...]
    conditions: tuple[Condition, ...] = ()
    definitions: tuple[CitedClause, ...] = ()


@dataclass(frozen=True)
class _Document:
    """The clauses of the version being read, with what lookups need."""

    clauses: Sequence[Clause]
    provider: str
    definitions: dict[str, Clause] = field(default_factory=dict)


def answer_use(use: Use, clauses: Sequence[Clause], provider: str = "the provider") -> Answer:
    """The answer of one version of a document (all its clauses, in order) to a use."""
    document = _Document(clauses, provider or "the provider", _definitions(clauses))
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


# --------------------------------------------------------------------------------------------- one clause


def _clause_verdict(use: Use, clause: Clause, document: _Document) -> Verdict | None:
    categories = set(clause.categories)
    features = clause.features or {}
    if _binds_provider(clause):
        return None
    if "output_training_permission" in categories:
        return _permission_verdict(use, clause, document)
    if categories & {"output_training", "competing_use"}:
        return _restriction_verdict(use, clause, document)
    if "scale_threshold" in categories:
        return _threshold_verdict(use, clause, document)
    if "geographic_restriction" in categories:
        return _territory_verdict(use, clause)
    if "attribution_naming" in categories:
        return _attribution_verdict(use, clause)
    return None


def _binds_provider(clause: Clause) -> bool:
    """Whether the clause is a promise the provider makes about its own conduct (it binds no user)."""
    bound = (clause.features or {}).get("bound_party")
    if isinstance(bound, str) and bound:
        return bound.lower() in ("provider", "the provider")
    subject = _NAMED_SUBJECT.match(clause.text)
    return bool(subject) and subject.group(1) not in _USER_WORDS


def _cite(clause: Clause, role: str) -> CitedClause:
    return CitedClause(clause.key, clause.path, clause.text, role)


def _name(clause: Clause) -> str:
    return clause.path or clause.key


def _list(features: dict[str, Any], key: str) -> list[Any]:
    value = features.get(key)
    return list(value) if isinstance(value, (list, tuple)) else []


def _acts_on(use: Use, clause: Clause) -> bool:
    """Whether the clause names what the use does (illustrations count: "including to train models")."""
    features = clause.features or {}
    actions = set(_list(features, "actions_all")) or set(_list(features, "actions"))
    if "competing_use" in clause.categories and use.act in ("train", "fine-tune", "distil", "build-product"):
        return bool(actions & (_MODEL_BUILDING | {"develop"}))
    return bool(actions & ACT_ACTIONS[use.act])


def _takes_object(use: Use, clause: Clause) -> bool:
    features = clause.features or {}
    objects = set(_list(features, "objects_all")) or set(_list(features, "objects"))
    if objects & _FOREIGN_OBJECTS and "outputs" not in objects:
        return False
    return bool(objects & USE_OBJECTS[use.object])


def _model_fit(use: Use, clause: Clause) -> tuple[str, str]:
    """("yes", "") the clause reaches the use's model; ("no", why); ("condition", text); ("unclear", why)."""
    classes = _list(clause.features or {}, "model_classes")
    if not classes:
        return "yes", ""
    unknown = [name for name in classes if name not in MODEL_CLASS_COVERS]
    if unknown:
        return "unclear", f"{_name(clause)} names a kind of model ({unknown[0]!r}) this check does not know."
    covered = set().union(*(MODEL_CLASS_COVERS[name] for name in classes))
    if use.model == "any":
        if covered >= MODEL_CLASS_COVERS["AI models"]:
            return "yes", ""
        kinds = " or ".join(MODEL_CLASS_WORDS.get(name, name) for name in classes)
        return "condition", f"the model is not {kinds} ({_name(clause)} reaches only those)"
    if use.model in covered:
        return "yes", ""
    kinds = " or ".join(MODEL_CLASS_WORDS.get(name, name) for name in classes)
    return "no", f"{_name(clause)} reaches only {kinds}"


# ------------------------------------------------------------------------------------------ restrictions


def _restriction_verdict(use: Use, clause: Clause, document: _Document) -> Verdict | None:
    features = clause.features or {}
    exceptions = [e for e in _list(features, "exceptions") if isinstance(e, dict)]
    if use.act == "evaluate":
        return _evaluation_verdict(clause, exceptions)
    if not _acts_on(use, clause) or not _takes_object(use, clause):
        return None
    fit, fit_text = _model_fit(use, clause)
    if fit == "no":
        return None
    cited = (_cite(clause, "restriction"),)
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
            return Verdict(outcome.answer, f"{_name(clause)} forbids {_act_words(use)}, “{written}”: "
                           f"{outcome.reason}", cited + outcome.cited, outcome.conditions, outcome.definitions)
        notes.append(outcome.reason)
        cited += outcome.cited
        definitions += outcome.definitions
    note = (" " + " ".join(notes)) if notes else ""
    if features.get("scope") == "competing" and use.purpose != "competing":
        rival = _COMPETES_WITH.search(clause.text)
        rival_text = rival.group(1).strip() if rival else f"{document.provider}’s products or services"
        condition = f"the model does not compete with {rival_text} ({_name(clause)})"
        return Verdict(CONDITIONAL, f"{_name(clause)} forbids only competing models and products{consent}; this "
                       f"use's purpose is {use.purpose}.{note}", cited, (Condition("compete", condition),),
                       definitions)
    reach = "models or products that compete" if features.get("scope") == "competing" else "any model"
    if fit == "condition":
        return Verdict(CONDITIONAL, f"{_name(clause)} forbids this for some kinds of model only{consent}.{note}",
                       cited, (Condition("model", fit_text),), definitions)
    scope = f" ({reach})" if use.act in ("train", "fine-tune", "distil") else ""
    return Verdict(FORBIDDEN, f"{_name(clause)} forbids {_act_words(use)}{scope}{consent}.{note}", cited,
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
            return Verdict(ALLOWED, f"{_name(clause)} carves out evaluation (“{exception.get('text', '')}”).",
                           (_cite(clause, "exception"),))
    return None


def _exception_outcome(use: Use, clause: Clause, exception: dict, document: _Document) -> Verdict | None:
    """Whether an exception of a restriction covers the use. None: it does not bear on the use."""
    kind, text = str(exception.get("type", "")), str(exception.get("text", ""))
    term = _defined_term(clause, text, document)
    if term is not None:
        return _definition_outcome(use, term, document.definitions[term], document)
    if kind == "permitted exception":
        return Verdict(UNCLEAR, f"{_name(clause)} excepts “{text}”, defined elsewhere: no clause of this "
                                f"version defines it.", ())
    if kind == "specific":
        excluded = _DERIVATIVE_EXCLUSION.search(_as_written(clause, text))
        if excluded is None:  # e.g. "other than allowing End Users to interface with ...": said, not applied
            return Verdict(FORBIDDEN, f"Its exception “{_as_written(clause, text)}” does not name this use.", ())
        if use.base_model == "provider":
            return Verdict(CONDITIONAL, f"{_name(clause)} excludes {excluded.group(1)} and its derivatives.", (),
                           (Condition("derivative", f"the model improved is {excluded.group(1)} or a derivative "
                                                    f"work of it ({_name(clause)})"),))
        return Verdict(FORBIDDEN, f"Its exception covers only {excluded.group(1)} and its derivatives.", ())
    if kind == "evaluation carve-out":
        return None
    if kind == "fine-tuning carve-out" and use.act == "fine-tune":
        return Verdict(UNCLEAR, f"{_name(clause)} has a carve-out (“{text}”) that may cover fine-tuning: read it.",
                       ())
    if kind in ("fine-tuning carve-out", "api key carve-out"):
        return None
    return Verdict(UNCLEAR, f"{_name(clause)} has an exception of a kind this check does not know ({kind!r}: "
                            f"“{text}”).", ())


# ------------------------------------------------------------------------------------------- definitions


def _definitions(clauses: Sequence[Clause]) -> dict[str, Clause]:
    """Defined term (as written) -> the clause defining it (“Permitted Exception” means ...)."""
    found: dict[str, Clause] = {}
    for clause in clauses:
        match = _DEFINITION.match(clause.text)
        if match:
            found.setdefault(match.group(1).strip(), clause)
    return found


def _defined_term(clause: Clause, exception_text: str, document: _Document) -> str | None:
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


def _definition_outcome(use: Use, term: str, definition: Clause, document: _Document) -> Verdict:
    """An exception defined by another clause: its alternatives, and whether one covers the use."""
    cited = (_cite(definition, "definition"),)
    body = _DEFINITION.sub("", definition.text, count=1)
    alternatives = _alternatives(body)
    refusals, unreadable = [], []
    for label, text in alternatives:
        fits, conditions, why = _alternative_fits(use, text, document)
        name = f"{term} {label}" if label else term
        if fits:
            answer = CONDITIONAL if conditions else ALLOWED
            return Verdict(answer, f"“{term}” ({_name(definition)}{' ' + label if label else ''}) covers this use.",
                           cited, tuple(Condition(f"exception {name}", f"{name}: {condition}")
                                        for condition in conditions), cited)
        (refusals if fits is False else unreadable).append(f"{name} {why}")
    if unreadable:  # no alternative covers the use for sure, and one cannot be read against it
        return Verdict(UNCLEAR, f"“{term}” ({_name(definition)}): " + "; ".join(unreadable) + ".", cited,
                       definitions=cited)
    return Verdict(FORBIDDEN, f"“{term}” ({_name(definition)}) does not cover it: " + "; ".join(refusals) + ".",
                   cited, definitions=cited)


def _alternatives(body: str) -> list[tuple[str, str]]:
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


def _alternative_fits(use: Use, text: str, document: _Document) -> tuple[bool | None, list[str], str]:
    """(fits, conditions, why not): does one alternative of a definition describe the use?"""
    description, condition = text, ""
    split = _CONDITION_WORDS.search(text)
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
    features = _features_of(description)
    actions = set(features.get("actions_all") or features.get("actions") or [])
    if not actions:
        return None, [], f"(“{description}”) names no act this check can compare with the use"
    if not actions & _MODEL_BUILDING:
        return False, [], "is about something other than building models"
    if use.act not in ("train", "fine-tune", "distil", "build-product"):
        return False, [], f"is about building models, not about {use.act}"
    return True, conditions, ""


def _features_of(text: str) -> dict[str, Any]:
    from monitor.clauses.classify import extract_features

    return extract_features(text)


# ------------------------------------------------------------------------------------------- permissions


def _permission_verdict(use: Use, clause: Clause, document: _Document) -> Verdict | None:
    features = clause.features or {}
    actions = set(_list(features, "actions_all")) or set(_list(features, "actions"))
    if not actions & _MODEL_BUILDING or use.act not in ("train", "fine-tune", "distil", "build-product"):
        return None
    if not _takes_object(use, clause):
        return None
    fit, fit_text = _model_fit(use, clause)
    if fit == "no":
        return None
    cited = (_cite(clause, "permission"),)
    if fit == "unclear":
        return Verdict(UNCLEAR, fit_text, cited)
    conditions = [Condition("model", fit_text)] if fit == "condition" else []
    grant = _granting_part(clause.text)
    duty = _DUTY.search(grant)
    if duty and _IF_DISTRIBUTED.search(grant):
        if use.distribution != "internal":
            conditions.append(Condition("naming", f"{duty.group(1).strip()} (if the model is distributed or made "
                                                  f"available; {_name(clause)})"))
    elif duty:
        conditions.append(Condition("naming", f"{duty.group(1).strip()} ({_name(clause)})"))
    split = _CONDITION_WORDS.search(grant)
    if split and not _BOILERPLATE_CONDITION.search(split.group(1)) and not _IF_DISTRIBUTED.search(grant):
        conditions.append(Condition("permission", f"{split.group(1).strip(' .;')} ({_name(clause)})"))
    if conditions:
        return Verdict(CONDITIONAL, f"{_name(clause)} permits using the {use.object} to build models, on "
                                    f"conditions.", cited, tuple(conditions))
    return Verdict(ALLOWED, f"{_name(clause)} permits using the {use.object} to build other models.", cited)


def _granting_part(text: str) -> str:
    """The numbered part of a clause that grants model building ("(3) You may apply ... training other
    models"), or the whole clause when it has no numbered parts."""
    parts = _alternatives(text)
    if len(parts) < 2:
        return text
    building = [part for _, part in parts if set(_features_of(part).get("actions_all", [])) & _MODEL_BUILDING]
    return " ".join(building) if building else text


# ------------------------------------------------------------------------- conditions of a model licence


def _threshold_verdict(use: Use, clause: Clause, document: _Document) -> Verdict | None:
    cited = (_cite(clause, "condition"),)
    verdicts = []
    for threshold in _list(clause.features or {}, "thresholds"):
        if not isinstance(threshold, dict):
            continue
        value, unit, text = threshold.get("value"), str(threshold.get("unit", "")), str(threshold.get("text", ""))
        if not isinstance(value, (int, float)):
            return Verdict(UNCLEAR, f"{_name(clause)} sets a threshold this check cannot read (“{text}”).", cited)
        if unit == _MAU and use.monthly_active_users is not None:
            if use.monthly_active_users > value:
                return Verdict(FORBIDDEN, f"{_name(clause)}: above {text} the licence's rights need a separate "
                                          f"licence from {document.provider}.", cited)
            continue
        counted = "your affiliates" if use.party == "affiliates" else "you and your affiliates"
        verdicts.append(Condition("threshold", f"no more than {text}, counting {counted} (above it "
                                               f"{_name(clause)} requires a separate licence from "
                                               f"{document.provider})"))
    if not verdicts:
        return None
    return Verdict(CONDITIONAL, f"{_name(clause)} withholds the licence above a user threshold.", cited,
                   tuple(verdicts))


def _territory_verdict(use: Use, clause: Clause) -> Verdict | None:
    territories = [str(t) for t in _list(clause.features or {}, "territories")]
    if not territories:
        return None
    cited = (_cite(clause, "condition"),)
    limited = _WITH_RESPECT_TO.match(clause.text)
    where = " or ".join(f"the {t.title()}" for t in territories)
    reach = f" (for {limited.group(1).strip()})" if limited else ""
    if use.based_in:
        if not set(use.based_in) & set(territories):
            return None
        if not limited:
            return Verdict(FORBIDDEN, f"{_name(clause)} withholds the licence's rights in {where}.", cited)
        return Verdict(CONDITIONAL, f"{_name(clause)} withholds rights in {where}, where this use is based, "
                                    f"for some models only.", cited,
                       (Condition("territory", f"the model used is not one of those {_name(clause)} names: "
                                               f"{limited.group(1).strip()}"),))
    return Verdict(CONDITIONAL, f"{_name(clause)} withholds rights from people and companies in {where}{reach}.",
                   cited, (Condition("territory", f"you are not an individual domiciled in, or a company with "
                                                  f"its principal place of business in, {where}{reach} "
                                                  f"({_name(clause)})"),))


def _attribution_verdict(use: Use, clause: Clause) -> Verdict | None:
    """A naming or notice duty on redistributing the provider's materials (not on models trained on outputs)."""
    if use.object not in ("weights", "materials") or use.distribution == "internal":
        return None
    duty = _DUTY.search(clause.text)
    text = duty.group(1).strip() if duty else clause.text.strip()
    return Verdict(CONDITIONAL, f"{_name(clause)} attaches a notice or naming duty to distributing the materials.",
                   (_cite(clause, "condition"),), (Condition("notice", f"{text} ({_name(clause)})"),))


__all__ = ["ALLOWED", "ANSWERS", "CONDITIONAL", "FORBIDDEN", "NOT_ADDRESSED", "UNCLEAR", "Answer", "CitedClause",
           "Condition",
           "Verdict", "answer_use", "combine"]
