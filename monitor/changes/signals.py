"""Change signals: the clauses before and after an edit in, (+1 tightened / -1 loosened, reason) signals out, from
their categories and features (acts, objects, qualifiers, scope, exceptions, bound parties, thresholds,
territories); and the direction those signals give."""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.clauses import PERMISSIVE_CATEGORIES, RESTRICTIVE_CATEGORIES, Clause
from monitor.clauses.classify import core_categories, extract_features, load_rules, prepare_text
from monitor.clauses.scope import alternative_signals, scope_signals
from monitor.clauses.threshold_changes import Signal, compare_thresholds

__all__ = ["clause_features", "direction_of", "feature_signals", "is_permission", "merge_signals",
           "scope_order_signals"]


def is_permission(categories: tuple[str, ...] | set[str]) -> bool:
    """A clause that grants (possibly on conditions) rather than forbids."""
    return bool(set(categories) & set(PERMISSIVE_CATEGORIES)) and not set(categories) & set(RESTRICTIVE_CATEGORIES)


def scope_order_signals(before: Clause, after: Clause, merged: list[Clause], edits: list) -> list[tuple[int, str]]:
    """Widenings the ordered vocabularies recognise: model classes, bound parties, added alternatives."""
    if merged:
        return []
    categories = set(before.categories) | set(after.categories)
    sign_of = -1 if is_permission(categories) else 1
    trains_models = bool(categories & {"output_training", "output_training_permission", "competing_use"})
    signals = scope_signals(prepare_text(before.text), prepare_text(after.text), sign_of, trains_models)
    spans = [e["text"] for f in (clause_features(before), clause_features(after))
             for e in (f or {}).get("exceptions", [])]
    return signals + alternative_signals(edits, spans, sign_of)


def direction_of(signals: list[tuple[int, str]]) -> str:
    """No signal: reworded; all one way: tightened or loosened; both ways: unclear."""
    signs = {sign for sign, _ in signals}
    if not signs:
        return "reworded"
    if signs == {1}:
        return "tightened"
    if signs == {-1}:
        return "loosened"
    return "unclear"


def clause_features(clause: Clause) -> dict:
    """A clause's features; a clause that is not watched has them computed on demand (to compare with one that is)."""
    return clause.features or extract_features(clause.text, clause.lead)


def _classes(names: set[str], table: str) -> set[str]:
    mapping = load_rules().features[table]
    return {mapping.get(name, name) for name in names if mapping.get(name, name) is not None}


def _set_signals(name: str, label: str, before: list[dict], after: dict, sign_of: int, table: str,
                 in_dropped_conditions: str = "", in_added_conditions: str = "") -> list[tuple[int, str]]:
    """Widened / narrowed lists of actions or objects.

    What goes with a dropped or added condition (its text: "models that you distribute") is the
    condition's: the condition's own signal tells it, not a narrower or wider list.

    What a rule names only as an illustration ("e.g.", "including") keeps a feature covered but never
    widens the rule. A list that both gains and loses members was redrafted: it is compared by class, so
    "exceed or bypass rate limits, restrictions" → "circumvent or evade rate limits, quotas, access controls"
    is the same rule while "circumvent" → "circumvent, disable or hack" widens it.
    """
    b_core = {v for f in before for v in f.get(name, [])}
    b_all = b_core | {v for f in before for v in f.get(f"{name}_all", [])}
    a_core = set(after.get(name, []))
    a_all = a_core | set(after.get(f"{name}_all", []))
    added, removed = a_core - b_all, b_core - a_all
    patterns = load_rules().features[name]
    removed = {v for v in removed if not _named_in(patterns, v, in_dropped_conditions)}
    added = {v for v in added if not _named_in(patterns, v, in_added_conditions)}
    if added and removed:
        added = _classes(a_core, table) - _classes(b_all, table)
        removed = _classes(b_core, table) - _classes(a_all, table)
    else:
        mapping = load_rules().features[table]
        added = {v for v in added if mapping.get(v, v) is not None}
        removed = {v for v in removed if mapping.get(v, v) is not None}
    return _gained_and_lost(added, removed, sign_of, lambda names: f"{label}s added: {names}",
                            lambda names: f"{label}s removed: {names}")


def _gained_and_lost(gained: set[str], lost: set[str], sign_of: int, gained_reason: Callable[[str], str],
                     lost_reason: Callable[[str], str]) -> list[tuple[int, str]]:
    """A signal for what a clause gained (`sign_of`) and one for what it lost (the other way); each reason is
    written from the names, sorted and joined."""
    signals = []
    if gained:
        signals.append((sign_of, gained_reason(", ".join(sorted(gained)))))
    if lost:
        signals.append((-sign_of, lost_reason(", ".join(sorted(lost)))))
    return signals


def feature_signals(sources: list[Clause], after: Clause, pieces: list[Clause] | tuple[Clause, ...] = (),
                    new_rules: list[str] | tuple[str, ...] = ()) -> list[Signal]:
    """(+1 tightening / -1 loosening, reason) for every difference in categories and features.

    `new_rules` are inserted passages that state a prohibition of their own: an exception inside one qualifies
    only that new prohibition and does not loosen the rest. (A removed passage's exception still counts: when
    unsure, a change leans to tightened.)
    """
    before_categories = {c for s in sources for c in s.categories}
    after_categories = set(after.categories) | {c for p in pieces for c in p.categories}
    signals = _category_signals(sources, after, pieces, before_categories, after_categories)
    before_features = [clause_features(s) for s in sources]
    a = _union_features([after, *pieces]) if pieces else clause_features(after)
    b = _union_features(sources) if len(sources) > 1 else before_features[0]
    if not b or not a:
        return signals
    sign_of = -1 if is_permission(after_categories | before_categories) else 1
    conditions, in_dropped, in_added = _condition_signals([s.text for s in sources], after.text, sign_of)
    signals += _set_signals("actions", "action", before_features, a, sign_of, "action_classes", in_dropped, in_added)
    signals += _set_signals("objects", "object", before_features, a, sign_of, "object_classes", in_dropped, in_added)
    signals += conditions
    signals += _qualifier_signals(b, a, [s.text for s in sources], after.text, sign_of)
    signals += _reach_signals(b, a, sign_of)
    signals += _exception_signals(b, a, sign_of, new_rules)
    signals += _bound_party_signals(b, a, sign_of)
    signals.extend(_threshold_signals(b, a))
    if "geographic_restriction" in before_categories | after_categories:
        signals += _territory_signals(b, a, sign_of)
    return signals


def _category_signals(sources: list[Clause], after: Clause, pieces: list[Clause] | tuple[Clause, ...],
                      before_categories: set[str], after_categories: set[str]) -> list[Signal]:
    """Categories the rule gained or lost.

    A category the rule gains only through an illustration ("including using the Output to do any of the
    foregoing") or keeps only there is not a change of rule.
    """
    before_core = {c for s in sources for c in core_categories(s.text, s.lead)} & before_categories
    after_core = {c for c in core_categories(after.text, after.lead)} & set(after.categories)
    after_core |= {c for p in pieces for c in p.categories}
    signals: list[Signal] = []
    for category in sorted(after_core - before_categories):
        sign = -1 if category in PERMISSIVE_CATEGORIES else 1
        signals.append((sign, f"now also a {category} clause"))
    for category in sorted(before_core - after_categories):
        sign = 1 if category in PERMISSIVE_CATEGORIES else -1
        signals.append((sign, f"no longer a {category} clause"))
    return signals


def _qualifier_signals(b: dict, a: dict, before_texts: list[str], after_text: str, sign_of: int) -> list[Signal]:
    """Qualifiers dropped (the scope widened, or one case of a list gone) and added."""
    signals: list[Signal] = []
    for qualifier in sorted(set(b.get("qualifiers", [])) - set(a.get("qualifiers", []))):
        if _listed_with_others(qualifier, before_texts):
            signals.append((-sign_of, f"'{qualifier}' dropped from the list it was one of: fewer cases covered"))
        elif _qualified_words_kept(qualifier, before_texts, after_text):
            signals.append((sign_of, f"qualifier '{qualifier}' dropped: scope widened"))
    for qualifier in sorted(set(a.get("qualifiers", [])) - set(b.get("qualifiers", []))):
        if _listed_with_others(qualifier, [after_text]):
            signals.append((sign_of, f"'{qualifier}' added to a list: more cases covered"))
        else:
            signals.append((-sign_of, f"qualifier '{qualifier}' added: scope narrowed"))
    return signals


def _reach_signals(b: dict, a: dict, sign_of: int) -> list[Signal]:
    """A rule on competing models or services that now reaches any, or the reverse."""
    if b.get("scope") == "competing" and a.get("scope") == "any":
        return [(sign_of, "scope widened from competing models or services to any")]
    if b.get("scope") == "any" and a.get("scope") == "competing":
        return [(-sign_of, "scope narrowed to competing models or services")]
    return []


def _exception_signals(b: dict, a: dict, sign_of: int, new_rules: list[str] | tuple[str, ...]) -> list[Signal]:
    """Exceptions removed, added (unless inside a newly added prohibition), and made harder or easier to meet."""
    before_exceptions, after_exceptions = _substantive_exceptions(b), _substantive_exceptions(a)
    removed = sorted(set(before_exceptions) - set(after_exceptions))
    added = sorted(set(after_exceptions) - set(before_exceptions))
    for old, new in _reworded_exceptions(removed, added):
        removed.remove(old)
        added.remove(new)
    signals: list[Signal] = [(sign_of, f"exception '{before_exceptions[key]}' removed") for key in removed]
    for key in added:
        if not any(after_exceptions[key] in passage for passage in new_rules):
            signals.append((-sign_of, f"exception '{after_exceptions[key]}' added"))
    for key in sorted(set(before_exceptions) & set(after_exceptions)):
        signals.extend(_exception_strictness(before_exceptions[key], after_exceptions[key], sign_of))
    return signals


def _bound_party_signals(b: dict, a: dict, sign_of: int) -> list[Signal]:
    signals: list[Signal] = []
    for party in sorted(set(a.get("bound_parties", [])) - set(b.get("bound_parties", []))):
        signals.append((sign_of, f"now also binds {party}"))
    for party in sorted(set(b.get("bound_parties", [])) - set(a.get("bound_parties", []))):
        signals.append((-sign_of, f"no longer binds {party}"))
    return signals


def _territory_signals(b: dict, a: dict, sign_of: int) -> list[Signal]:
    """Territories added or removed; only for a geographic clause: elsewhere a named country is context
    ("China's national security"), not the rule's reach."""
    signals: list[Signal] = []
    for territory in sorted(set(a.get("territories", [])) - set(b.get("territories", []))):
        signals.append((sign_of, f"territory added: {territory}"))
    for territory in sorted(set(b.get("territories", [])) - set(a.get("territories", []))):
        signals.append((-sign_of, f"territory removed: {territory}"))
    return signals


def _condition_signals(before_texts: list[str], after_text: str, sign_of: int) -> tuple[list[Signal], str, str]:
    """Conditions the rule dropped (widened) or gained (narrowed), and the texts of those conditions.

    A condition counts only while the word it follows ("models" in "models that you distribute") is in the
    clause on both sides: one that went with its whole item is the item's loss, told by the rest."""
    conditions = load_rules().features.get("conditions", {})
    before = [prepare_text(text) for text in before_texts]
    after = prepare_text(after_text)
    signals, dropped, added = [], [], []
    for pattern in conditions.values():
        old = [(text, m) for text in before for m in pattern.finditer(text)]
        new = [(after, m) for m in pattern.finditer(after)]
        if old and not new:
            kept = [m.group(0).strip() for text, m in old if _head_word(text, m) in _stems([after])]
            if kept:
                signals.append((sign_of, f"condition '{kept[0]}' dropped: scope widened"))
                dropped += kept
        elif new and not old:
            put = [m.group(0).strip() for text, m in new if _head_word(text, m) in _stems(before)]
            if put:
                signals.append((-sign_of, f"condition '{put[0]}' added: scope narrowed"))
                added += put
    return signals, " ".join(dropped), " ".join(added)


def _named_in(patterns: dict[str, re.Pattern[str]], name: str, text: str) -> bool:
    """Whether the feature `name` is named in `text` (a stored feature the rules no longer name is not)."""
    pattern = patterns.get(name)
    return bool(text) and pattern is not None and pattern.search(text) is not None


def _head_word(text: str, match: re.Match[str]) -> str:
    words = re.findall(r"[a-z]+", text[: match.start()])
    return _stem(words[-1]) if words else ""


def _stems(texts: list[str]) -> set[str]:
    return {_stem(word) for text in texts for word in re.findall(r"[a-z]+", text)}


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _listed_with_others(qualifier: str, texts: list[str]) -> bool:
    """Whether the qualifier is one of a list of alternatives ("for any commercial, military, or illegal
    purposes"): there it names one more case the rule covers, not a narrowing of the rule."""
    pattern = load_rules().features["qualifiers"][qualifier]
    for text in map(prepare_text, texts):
        for match in pattern.finditer(text):
            if re.match(r"(?:\s*,\s*[\w-]+)*,?\s+(?:or|and/or)\s", text[match.end():]):
                return True
    return False


def _qualified_words_kept(qualifier: str, before_texts: list[str], after_text: str) -> bool:
    """Whether the words a dropped qualifier narrowed are still in the clause ("commercial products" →
    "products" widens the rule; a whole item removed with its qualifier only loosens it)."""
    pattern = load_rules().features["qualifiers"][qualifier]
    after_words = set(re.findall(r"[a-z]+", prepare_text(after_text)))
    narrowed = []
    for text in map(prepare_text, before_texts):
        for match in pattern.finditer(text):
            following = [w for w in re.findall(r"[a-z]+", text[match.end():])[:4] if w not in _LINKING_WORDS]
            narrowed.append(set(following[:2]))
    return not narrowed or any(not words or words & after_words for words in narrowed)


# Skipped when reading what a qualifier narrows: linking words, and the nouns of a purpose ("for commercial
# purposes" narrows the whole rule, not a thing it names).
_LINKING_WORDS = {"a", "an", "the", "or", "and", "of", "to", "for", "any", "other", "use", "uses", "purpose", "purposes"}


def merge_signals(part: Clause, whole: Clause, split: bool = False) -> list[tuple[int, str]]:
    """A merged or split clause changed the rule only where the smaller text says something the larger does not."""
    signals = []
    p, w = part.features or {}, whole.features or {}
    missing_categories = set(part.categories) - set(whole.categories)
    for category in sorted(missing_categories):
        sign = 1 if category in PERMISSIVE_CATEGORIES else -1
        signals.append((sign if not split else -sign, f"no longer a {category} clause"))
    if not p or not w:
        return signals
    for name, table in (("actions", "action_classes"), ("objects", "object_classes")):
        mapping = load_rules().features[table]
        covered = set(w.get(name, [])) | set(w.get(f"{name}_all", []))
        covered_classes = {mapping.get(v, v) for v in covered}
        # Named by a synonym of the same class in the larger clause: still covered.
        missing = sorted(v for v in set(p.get(name, [])) - covered
                         if mapping.get(v, v) is not None and mapping.get(v, v) not in covered_classes)
        if missing:
            signals.append((1 if split else -1, f"{name} {'added' if split else 'dropped'}: {', '.join(missing)}"))
    part_exceptions, whole_exceptions = _substantive_exceptions(p), _substantive_exceptions(w)
    lost = set(part_exceptions) - set(whole_exceptions)
    for key in sorted(lost):
        signals.append((-1 if split else 1, f"exception '{part_exceptions[key]}' {'added' if split else 'removed'}"))
    return signals


def _union_features(sources: list[Clause]) -> dict:
    features = [clause_features(s) for s in sources]
    features = [f for f in features if f]
    if not features:
        return {}
    if len(features) == 1:
        return features[0]
    union: dict = {"exceptions": [], "thresholds": []}
    for name in ("objects", "actions", "objects_all", "actions_all", "qualifiers", "parties", "bound_parties",
                 "territories", "model_classes"):
        union[name] = sorted({v for f in features for v in f.get(name, [])})
    union["scope"] = "competing" if all(f.get("scope") == "competing" for f in features) else "any"
    for f in features:
        union["exceptions"] += f.get("exceptions", [])
        union["thresholds"] += f.get("thresholds", [])
    return union


_BOILERPLATE_EXCEPTIONS = {"as permitted", "law"}


def _substantive_exceptions(features: dict) -> dict[str, str]:
    out = {}
    for exception in features.get("exceptions", []):
        if exception["type"] in _BOILERPLATE_EXCEPTIONS:
            continue
        key = exception["type"] if exception["type"] != "specific" else f"specific:{exception['text']}"
        out.setdefault(key, exception["text"])
    return out


# Words that make a consent or carve-out harder to obtain ("consent" → "prior written consent").
_EXCEPTION_STRICTNESS = re.compile(r"\b(?:written|writing|prior|advance|express|expressly|explicit|explicitly|official)\b")


def _exception_strictness(old: str, new: str, sign_of: int) -> list[tuple[int, str]]:
    """An exception kept but made harder to meet narrows it (tightens the rule); made easier, widens it."""
    before, after = set(_EXCEPTION_STRICTNESS.findall(old)), set(_EXCEPTION_STRICTNESS.findall(new))
    return _gained_and_lost(after - before, before - after, sign_of,
                            lambda names: f"exception narrowed: now needs {names} ('{new}')",
                            lambda names: f"exception widened: no longer needs {names} ('{new}')")


def _reworded_exceptions(removed: list[str], added: list[str]) -> list[tuple[str, str]]:
    """Carve-outs that only changed wording ("excluding Llama 2 ..." → "excluding Meta Llama 3 ...")."""
    pairs = []
    for old in removed:
        old_words = set(re.findall(r"[a-z]{3,}", old))
        for new in added:
            new_words = set(re.findall(r"[a-z]{3,}", new))
            if old_words and new_words and 2 * len(old_words & new_words) / (len(old_words) + len(new_words)) >= 0.6:
                if new not in [n for _, n in pairs]:
                    pairs.append((old, new))
                    break
    return pairs


def _threshold_signals(b: dict, a: dict) -> list[tuple[int, str]]:
    return compare_thresholds(b.get("thresholds", []), a.get("thresholds", []))

