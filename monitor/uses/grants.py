"""Grants and licence conditions: a use and a clause that permits training on outputs, or a model licence's user
threshold, territory or notice duty, in; the clause's verdict (allowed, or the conditions it sets) out."""

from __future__ import annotations

import re

from monitor.clauses import Clause
from monitor.uses.definitions import CONDITION_WORDS, features_of, split_alternatives
from monitor.uses.model import Use
from monitor.uses.reach import MODEL_BUILDING, model_fit, takes_object
from monitor.uses.verdict import (ALLOWED, CONDITIONAL, FORBIDDEN, UNCLEAR, Condition, Document, Verdict, cite,
                                  clause_name, feature_list)

__all__ = ["attribution_verdict", "permission_verdict", "territory_verdict", "threshold_verdict"]

_BOILERPLATE_CONDITION = re.compile(r"\b(?:legal|lawful|applicable laws?|these terms|this agreement)\b", re.I)
_IF_DISTRIBUTED = re.compile(r"\b(?:which|that) (?:is|are) distributed or made available\b|\bif you distribute\b",
                             re.I)
_DUTY = re.compile(r"\byou (?:shall|must|will need to|are required to)\s+(?:also\s+)?(.+?)(?:[.;]\s*$|$)", re.I)
_WITH_RESPECT_TO = re.compile(r"^\W*with respect to ([^,]+),", re.I)
_MAU = "monthly active users"


def permission_verdict(use: Use, clause: Clause, document: Document) -> Verdict | None:
    features = clause.features or {}
    actions = set(feature_list(features, "actions_all")) or set(feature_list(features, "actions"))
    if not actions & MODEL_BUILDING or use.act not in ("train", "fine-tune", "distil", "build-product"):
        return None
    if not takes_object(use, clause):
        return None
    fit, fit_text = model_fit(use, clause)
    if fit == "no":
        return None
    cited = (cite(clause, "permission"),)
    if fit == "unclear":
        return Verdict(UNCLEAR, fit_text, cited)
    conditions = [Condition("model", fit_text)] if fit == "condition" else []
    grant = _granting_part(clause.text)
    duty = _DUTY.search(grant)
    if duty and _IF_DISTRIBUTED.search(grant):
        if use.distribution != "internal":
            conditions.append(Condition("naming", f"{duty.group(1).strip()} (if the model is distributed or made "
                                                  f"available; {clause_name(clause)})"))
    elif duty:
        conditions.append(Condition("naming", f"{duty.group(1).strip()} ({clause_name(clause)})"))
    split = CONDITION_WORDS.search(grant)
    if split and not _BOILERPLATE_CONDITION.search(split.group(1)) and not _IF_DISTRIBUTED.search(grant):
        conditions.append(Condition("permission", f"{split.group(1).strip(' .;')} ({clause_name(clause)})"))
    if conditions:
        return Verdict(CONDITIONAL, f"{clause_name(clause)} permits using the {use.object} to build models, on "
                                    f"conditions.", cited, tuple(conditions))
    return Verdict(ALLOWED, f"{clause_name(clause)} permits using the {use.object} to build other models.", cited)


def _granting_part(text: str) -> str:
    """The numbered part of a clause that grants model building ("(3) You may apply ... training other
    models"), or the whole clause when it has no numbered parts."""
    parts = split_alternatives(text)
    if len(parts) < 2:
        return text
    building = [part for _, part in parts if set(features_of(part).get("actions_all", [])) & MODEL_BUILDING]
    return " ".join(building) if building else text


def threshold_verdict(use: Use, clause: Clause, document: Document) -> Verdict | None:
    cited = (cite(clause, "condition"),)
    verdicts = []
    for threshold in feature_list(clause.features or {}, "thresholds"):
        if not isinstance(threshold, dict):
            continue
        value, unit, text = threshold.get("value"), str(threshold.get("unit", "")), str(threshold.get("text", ""))
        if not isinstance(value, (int, float)):
            return Verdict(UNCLEAR, f"{clause_name(clause)} sets a threshold this check cannot read (“{text}”).", cited)
        if unit == _MAU and use.monthly_active_users is not None:
            if use.monthly_active_users > value:
                return Verdict(FORBIDDEN, f"{clause_name(clause)}: above {text} the licence's rights need a separate "
                                          f"licence from {document.provider}.", cited)
            continue
        counted = "your affiliates" if use.party == "affiliates" else "you and your affiliates"
        verdicts.append(Condition("threshold", f"no more than {text}, counting {counted} (above it "
                                               f"{clause_name(clause)} requires a separate licence from "
                                               f"{document.provider})"))
    if not verdicts:
        return None
    return Verdict(CONDITIONAL, f"{clause_name(clause)} withholds the licence above a user threshold.", cited,
                   tuple(verdicts))


def territory_verdict(use: Use, clause: Clause) -> Verdict | None:
    territories = [str(t) for t in feature_list(clause.features or {}, "territories")]
    if not territories:
        return None
    cited = (cite(clause, "condition"),)
    limited = _WITH_RESPECT_TO.match(clause.text)
    where = " or ".join(f"the {t.title()}" for t in territories)
    reach = f" (for {limited.group(1).strip()})" if limited else ""
    if use.based_in:
        if not set(use.based_in) & set(territories):
            return None
        if not limited:
            return Verdict(FORBIDDEN, f"{clause_name(clause)} withholds the licence's rights in {where}.", cited)
        return Verdict(CONDITIONAL, f"{clause_name(clause)} withholds rights in {where}, where this use is based, "
                                    f"for some models only.", cited,
                       (Condition("territory", f"the model used is not one of those {clause_name(clause)} names: "
                                               f"{limited.group(1).strip()}"),))
    return Verdict(CONDITIONAL, f"{clause_name(clause)} withholds rights from people and companies in {where}{reach}.",
                   cited, (Condition("territory", f"you are not an individual domiciled in, or a company with "
                                                  f"its principal place of business in, {where}{reach} "
                                                  f"({clause_name(clause)})"),))


def attribution_verdict(use: Use, clause: Clause) -> Verdict | None:
    """A naming or notice duty on redistributing the provider's materials (not on models trained on outputs)."""
    if use.object not in ("weights", "materials") or use.distribution == "internal":
        return None
    duty = _DUTY.search(clause.text)
    text = duty.group(1).strip() if duty else clause.text.strip()
    return Verdict(CONDITIONAL, f"{clause_name(clause)} attaches a notice or naming duty to distributing the materials.",
                   (cite(clause, "condition"),), (Condition("notice", f"{text} ({clause_name(clause)})"),))
