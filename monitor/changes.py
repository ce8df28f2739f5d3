"""Change stage: two versions' clauses in, `ClauseChange`s out (kind, direction, reason, word diff)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from diff_match_patch import diff_match_patch

from monitor.clauses import PERMISSIVE_CATEGORIES, RESTRICTIVE_CATEGORIES, Clause
from monitor.clauses.align import align_clauses, content_of, strip_label
from monitor.clauses.definitions import definitions_of, uses_term
from monitor.clauses.language import is_mainly_cjk
from monitor.clauses.classify import core_categories, extract_features, load_rules, matches_core_rule, prepare_text
from monitor.clauses.threshold_changes import compare_thresholds
from monitor.clauses.scope import (alternative_signals, classify_edits, declared_names, edits_of,
                                   explained_by_vocabulary, is_alternative, scope_signals, substantive_reason)


# A diff is a list of (op, text) with op -1 deleted, 0 kept, 1 inserted.
Diff = list[tuple[int, str]]


@dataclass(frozen=True)
class ClauseChange:
    """One change to a watched clause between two versions of a document."""

    key: str
    path: str
    kind: str  # added | removed | modified
    categories: tuple[str, ...]
    direction: str  # one of monitor.directions.DIRECTIONS
    reason: str
    before: str
    after: str
    diff: Diff


_WORD = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
DIFF_TIMEOUT_SECONDS = 0.2
_PARAGRAPH = re.compile(r"[^\n]*\n*")


def word_diff(before: str, after: str) -> Diff:
    """Word-level diff (diff-match-patch on word tokens, then semantic cleanup).

    Paragraphs are diffed first and only the paragraphs that changed are diffed word by word,
    so the cost grows with what changed, not with the length of the document.
    """
    dmp = diff_match_patch()
    # A document rewritten end to end has no common paragraphs; bound the word diff of such a
    # chunk (diff-match-patch then returns a coarser but still correct diff).
    dmp.Diff_Timeout = DIFF_TIMEOUT_SECONDS
    paragraphs = _Tokens()
    by_paragraph = dmp.diff_main(paragraphs.encode(_PARAGRAPH.findall(before)),
                                 paragraphs.encode(_PARAGRAPH.findall(after)), False)
    result: Diff = []
    pending = {-1: "", 1: ""}
    for op, chunk in by_paragraph + [(0, "")]:
        text = paragraphs.decode(chunk)
        if op != 0:
            pending[op] += text
            continue
        if pending[-1] or pending[1]:
            result += _words_diff(dmp, pending[-1], pending[1])
            pending = {-1: "", 1: ""}
        if text:
            result.append((0, text))
    return _merge(result)


def _words_diff(dmp: diff_match_patch, before: str, after: str) -> Diff:
    if not before or not after:
        return [(-1, before)] if before else [(1, after)]
    words = _Tokens()
    diffs = dmp.diff_main(words.encode(_WORD.findall(before)), words.encode(_WORD.findall(after)), False)
    # Clean up while each character still stands for a whole word, so edits never split a word.
    dmp.diff_cleanupSemantic(diffs)
    return [(op, words.decode(chunk)) for op, chunk in diffs if chunk]


class _Tokens:
    """Maps tokens (words or paragraphs) to single characters so diff-match-patch diffs them as units."""

    def __init__(self) -> None:
        self.tokens: list[str] = [""]
        self.index: dict[str, int] = {}

    def encode(self, tokens: list[str]) -> str:
        chars = []
        for token in tokens:
            if token not in self.index:
                self.index[token] = len(self.tokens)
                self.tokens.append(token)
            chars.append(chr(self.index[token]))
        return "".join(chars)

    def decode(self, chars: str) -> str:
        return "".join(self.tokens[ord(c)] for c in chars)


def _merge(diff: Diff) -> Diff:
    """Join neighbouring pieces with the same operation."""
    merged: Diff = []
    for op, text in diff:
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


# ---------------------------------------------------------------- comparing two versions

def compare_clauses(previous: list[Clause], current: list[Clause]) -> tuple[list[Clause], list[ClauseChange]]:
    """Align `current` with `previous` by content, carry keys over, and describe every change to a watched clause."""
    alignment = align_clauses(previous, current)
    declared = declared_names([c.text for c in current])
    carried = {j: previous[i].key for i, j in alignment.pairs}
    keyed = _assign_keys(current, carried)
    changes: list[ClauseChange] = []
    paired_current = {j for _, j in alignment.pairs}
    pieces: dict[int, list[Clause]] = {}
    for j, i in alignment.split_from.items():
        pieces.setdefault(i, []).append(keyed[j])
    for i, j in alignment.pairs:
        merged = [previous[k] for k in alignment.merged.get(j, [])]
        change = describe_change(previous[i], keyed[j], merged, pieces=pieces.get(i, []), declared=declared)
        if change:
            changes.append(change)
    for j, sources in alignment.merged.items():
        for k in sources:
            change = describe_change(previous[k], keyed[j], [], relation="merged")
            if change:
                changes.append(change)
        if j not in paired_current and j in alignment.added:
            alignment.added.remove(j)
    for j, i in alignment.split_from.items():
        change = describe_change(previous[i], keyed[j], [], relation="split")
        if change:
            changes.append(change)
    for i in alignment.removed:
        if previous[i].watched:
            changes.append(_translation_or(_appeared_or_gone(previous[i], "removed"), previous[i], keyed))
    for j in alignment.added:
        if keyed[j].watched:
            changes.append(_translation_or(_appeared_or_gone(keyed[j], "added"), keyed[j], previous))
    changes += definition_changes(previous, keyed, changes, declared)
    return keyed, changes


def definition_changes(previous: list[Clause], current: list[Clause], changes: list[ClauseChange],
                       declared: frozenset[str] = frozenset()) -> list[ClauseChange]:
    """Events on the watched clauses whose defined terms changed meaning, when their own words did not.

    A definition whose edits are all cosmetic, or that says nothing a watched rule is about (no core rule matches
    it), changes nothing. Otherwise the definition's old and new text are
    compared as if they were part of the restriction ("Derivatives" now counting distillation widens a ban on
    Derivatives); when nothing says how, the change is `unclear`.
    """
    before_terms, after_terms = definitions_of(previous), definitions_of(current)
    changed = {change.key for change in changes}
    events = []
    for term in sorted(set(before_terms) | set(after_terms)):
        old, new = before_terms.get(term), after_terms.get(term)
        old_text, new_text = (old.text if old else ""), (new.text if new else "")
        if content_of(old_text) == content_of(new_text):
            continue
        edits = classify_edits(word_diff(strip_label(old_text), strip_label(new_text)), declared)
        if old and new and all(edit.cosmetic for edit in edits):
            continue
        if not (matches_core_rule(old_text) or matches_core_rule(new_text)):
            continue  # the term's meaning touches no watched kind of rule ("Work", "Licensor")
        for clause in current:
            if clause.watched and clause.key not in changed and uses_term(clause.text, term) and clause is not new:
                events.append(_definition_change(clause, term, old_text, new_text))
                changed.add(clause.key)
    return events


def _definition_change(clause: Clause, term: str, old: str, new: str) -> ClauseChange:
    before = replace(clause, text=old, features=extract_features(old) if old else {})
    after = replace(clause, text=new, features=extract_features(new) if new else {})
    signals = feature_signals([before], after) if old and new else []
    direction = _direction(signals) if signals else "unclear"
    what = "; ".join(dict.fromkeys(text for _, text in signals)) or (
        "definition removed" if not new else "definition added" if not old else "definition reworded")
    reason = f"definition of '{term}' changed ({what}); this clause uses it"
    return ClauseChange(clause.key, clause.path, "modified", clause.categories, direction, reason, old, new,
                        word_diff(old, new))


def _assign_keys(current: list[Clause], carried: dict[int, str]) -> list[Clause]:
    used = set(carried.values())
    keyed = []
    for j, clause in enumerate(current):
        key = carried.get(j)
        if key is None:
            key = clause.key
            suffix = 1
            while key in used:
                suffix += 1
                key = f"{clause.key}-{suffix}"
            used.add(key)
        keyed.append(replace(clause, key=key))
    return keyed


def _is_permission(categories: tuple[str, ...] | set[str]) -> bool:
    """A clause that grants (possibly on conditions) rather than forbids."""
    return bool(set(categories) & set(PERMISSIVE_CATEGORIES)) and not set(categories) & set(RESTRICTIVE_CATEGORIES)


def _translation_or(change: ClauseChange, clause: Clause, other_version: list[Clause]) -> ClauseChange:
    """A clause that appears or goes with its whole language (a bilingual licence that keeps only its English
    text, or gains a Chinese one) is a translation, not a rule, when the other version states its categories
    in its own language. Otherwise the change stands: a rule found only in the translation is still news."""
    cjk = is_mainly_cjk(clause.text)
    watched = [c for c in other_version if c.watched]
    if any(is_mainly_cjk(c.text) == cjk for c in watched):
        return change
    if not set(clause.categories) <= {category for c in watched for category in c.categories}:
        return change
    side = "dropped" if change.kind == "removed" else "added"
    return replace(change, direction="reworded",
                   reason=f"translation {side}: the other version states the same categories in its own language")


def _appeared_or_gone(clause: Clause, kind: str) -> ClauseChange:
    permissive = _is_permission(clause.categories)
    if kind == "added":
        direction = "loosened" if permissive else "tightened"
        reason = ("new permission: " if permissive else "new restriction: ") + _short(clause.text)
        before, after = "", clause.text
    else:
        direction = "tightened" if permissive else "loosened"
        reason = ("permission removed: " if permissive else "restriction removed: ") + _short(clause.text)
        before, after = clause.text, ""
    return ClauseChange(clause.key, clause.path, kind, clause.categories, direction, reason, before, after,
                        word_diff(before, after))


def describe_change(before: Clause, after: Clause, merged: list[Clause], relation: str = "",
                    pieces: list[Clause] | tuple[Clause, ...] = (),
                    declared: frozenset[str] = frozenset()) -> ClauseChange | None:
    """The change from one aligned clause to the next, or None when nothing a reader cares about changed.

    `pieces` are the other current clauses split out of `before`: what moved into them is not lost.
    `declared` are the names the document declares (quoted defined terms): renaming to one is cosmetic.
    A change is `reworded` only when every edit is of a cosmetic kind (scope.yaml) or swaps words of the
    features' vocabulary within their classes; any other edit is at least `unclear`.
    """
    if not (before.watched or after.watched or any(m.watched for m in merged)):
        return None
    if before.text == after.text and not merged and not relation:
        return None
    categories = tuple(dict.fromkeys(before.categories + after.categories + tuple(c for m in merged for c in m.categories)))
    if content_of(before.text) == content_of(after.text) and not merged:
        reason = _relabel_reason(before, after)
        return ClauseChange(after.key, after.path, "modified", categories, "reworded", reason, before.text,
                            after.text, word_diff(before.text, after.text))
    edits = classify_edits(word_diff(strip_label(before.text), strip_label(after.text)), declared)
    same_categories = set(before.categories) == set(after.categories)
    if not merged and not relation and same_categories and all(edit.cosmetic for edit in edits):
        return ClauseChange(after.key, after.path, "modified", categories, "reworded", _cosmetic_reason(edits),
                            before.text, after.text, word_diff(before.text, after.text))
    sources = [before, *merged]
    signals = feature_signals(sources, after, pieces, _inserted_prohibitions(edits))
    if relation == "merged":
        # A clause folded into a larger one: only what it loses counts.
        signals = _lost_in_merge(before, after)
    elif relation == "split":
        signals = _lost_in_merge(after, before, split=True)
    else:
        signals += _scope_order_signals(before, after, merged, edits)
    direction = _direction(signals)
    if signals:
        reason = "; ".join(dict.fromkeys(text for _, text in signals))
    elif relation or _explained_by_features(edits, before, after):
        reason = _reworded_reason(before, after, relation)
    else:
        # Fail-safe: words that may carry the rule changed and nothing says how; a person reviews it.
        direction, reason = "unclear", substantive_reason(edits)
    if relation and signals:
        reason = f"{relation}: {reason}"
    return ClauseChange(after.key, after.path, "modified", categories, direction, reason, before.text, after.text,
                        word_diff(before.text, after.text))


def _cosmetic_reason(edits: list) -> str:
    if not edits:
        return "reworded, same rule (punctuation or spacing)"
    renames = [e for e in edits if e.kind == "renamed term"]
    if renames and len(renames) == len([e for e in edits if e.kind != "punctuation or spacing"]):
        return "renamed " + ", ".join(f"'{e.old}' → '{e.new}'" for e in renames[:4]) + "; same rule"
    shown = [f"{e.kind}: {e.describe()}" for e in edits if e.kind != "punctuation or spacing"][:3]
    return "reworded, same rule: " + ("; ".join(shown) if shown else "punctuation or spacing")


def _scope_order_signals(before: Clause, after: Clause, merged: list[Clause], edits: list) -> list[tuple[int, str]]:
    """Widenings the ordered vocabularies recognise: model classes, bound parties, added alternatives."""
    if merged:
        return []
    categories = set(before.categories) | set(after.categories)
    sign_of = -1 if _is_permission(categories) else 1
    trains_models = bool(categories & {"output_training", "output_training_permission", "competing_use"})
    signals = scope_signals(prepare_text(before.text), prepare_text(after.text), sign_of, trains_models)
    spans = [e["text"] for f in (_features(before), _features(after)) for e in (f or {}).get("exceptions", [])]
    return signals + alternative_signals(edits, spans, sign_of)


def _explained_by_features(edits: list, before: Clause, after: Clause) -> bool:
    """Every substantive edit swaps words of the acts' and objects' vocabulary, which the feature comparison
    judged by class ("exceed or bypass rate limits" → "circumvent or evade rate limits")."""
    features = load_rules().features
    patterns = list(features["actions"].values()) + list(features["objects"].values())
    b, a = strip_label(before.text), strip_label(after.text)
    return all(edit.cosmetic or (not is_alternative(edit) and explained_by_vocabulary(edit, b, a, patterns))
               for edit in edits)


def _direction(signals: list[tuple[int, str]]) -> str:
    signs = {sign for sign, _ in signals}
    if not signs:
        return "reworded"
    if signs == {1}:
        return "tightened"
    if signs == {-1}:
        return "loosened"
    return "unclear"


def _features(clause: Clause) -> dict:
    """A clause's features; a clause that is not watched has them computed on demand (to compare with one that is)."""
    return clause.features or extract_features(clause.text, clause.lead)


def _classes(names: set[str], table: str) -> set[str]:
    mapping = load_rules().features[table]
    return {mapping.get(name, name) for name in names if mapping.get(name, name) is not None}


def _set_signals(name: str, label: str, before: list[dict], after: dict, sign_of: int, table: str) -> list[tuple[int, str]]:
    """Widened / narrowed lists of actions or objects.

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
                    new_rules: list[str] | tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """(+1 tightening / -1 loosening, reason) for every difference in categories and features.

    `new_rules` are inserted passages that state a prohibition of their own: an exception inside one qualifies
    only that new prohibition and does not loosen the rest. (A removed passage's exception still counts: when
    unsure, a change leans to tightened.)
    """
    signals: list[tuple[int, str]] = []
    before_categories = {c for s in sources for c in s.categories}
    after_categories = set(after.categories) | {c for p in pieces for c in p.categories}
    # A category the rule gains only through an illustration ("including using the Output to do any of the
    # foregoing") or keeps only there is not a change of rule.
    before_core = {c for s in sources for c in core_categories(s.text, s.lead)} & before_categories
    after_core = {c for c in core_categories(after.text, after.lead)} & set(after.categories)
    after_core |= {c for p in pieces for c in p.categories}
    for category in sorted(after_core - before_categories):
        sign = -1 if category in PERMISSIVE_CATEGORIES else 1
        signals.append((sign, f"now also a {category} clause"))
    for category in sorted(before_core - after_categories):
        sign = 1 if category in PERMISSIVE_CATEGORIES else -1
        signals.append((sign, f"no longer a {category} clause"))
    before_features = [_features(s) for s in sources]
    a = _union_features([after, *pieces]) if pieces else _features(after)
    b = _union_features(sources) if len(sources) > 1 else before_features[0]
    if not b or not a:
        return signals
    sign_of = -1 if _is_permission(after_categories | before_categories) else 1
    signals += _set_signals("actions", "action", before_features, a, sign_of, "action_classes")
    signals += _set_signals("objects", "object", before_features, a, sign_of, "object_classes")
    before_texts = [s.text for s in sources]
    for qualifier in sorted(set(b.get("qualifiers", [])) - set(a.get("qualifiers", []))):
        if _listed_with_others(qualifier, before_texts):
            signals.append((-sign_of, f"'{qualifier}' dropped from the list it was one of: fewer cases covered"))
        elif _qualified_words_kept(qualifier, before_texts, after.text):
            signals.append((sign_of, f"qualifier '{qualifier}' dropped: scope widened"))
    for qualifier in sorted(set(a.get("qualifiers", [])) - set(b.get("qualifiers", []))):
        if _listed_with_others(qualifier, [after.text]):
            signals.append((sign_of, f"'{qualifier}' added to a list: more cases covered"))
        else:
            signals.append((-sign_of, f"qualifier '{qualifier}' added: scope narrowed"))
    if b.get("scope") == "competing" and a.get("scope") == "any":
        signals.append((sign_of, "scope widened from competing models or services to any"))
    elif b.get("scope") == "any" and a.get("scope") == "competing":
        signals.append((-sign_of, "scope narrowed to competing models or services"))
    before_exceptions, after_exceptions = _substantive_exceptions(b), _substantive_exceptions(a)
    removed = sorted(set(before_exceptions) - set(after_exceptions))
    added = sorted(set(after_exceptions) - set(before_exceptions))
    for old, new in _reworded_exceptions(removed, added):
        removed.remove(old)
        added.remove(new)
    for key in removed:
        signals.append((sign_of, f"exception '{before_exceptions[key]}' removed"))
    for key in added:
        if not any(after_exceptions[key] in passage for passage in new_rules):
            signals.append((-sign_of, f"exception '{after_exceptions[key]}' added"))
    for key in sorted(set(before_exceptions) & set(after_exceptions)):
        signals.extend(_exception_strictness(before_exceptions[key], after_exceptions[key], sign_of))
    for party in sorted(set(a.get("bound_parties", [])) - set(b.get("bound_parties", []))):
        signals.append((sign_of, f"now also binds {party}"))
    for party in sorted(set(b.get("bound_parties", [])) - set(a.get("bound_parties", []))):
        signals.append((-sign_of, f"no longer binds {party}"))
    signals.extend(_threshold_signals(b, a))
    if "geographic_restriction" in before_categories | after_categories:
        # Elsewhere a named country is context ("China's national security"), not the rule's reach.
        for territory in sorted(set(a.get("territories", [])) - set(b.get("territories", []))):
            signals.append((sign_of, f"territory added: {territory}"))
        for territory in sorted(set(b.get("territories", [])) - set(a.get("territories", []))):
            signals.append((-sign_of, f"territory removed: {territory}"))
    return signals


# A passage that forbids something by itself ("For the avoidance of doubt, you may not resell ...").
_PROHIBITION = re.compile(r"\b(?:not|never|no one|nor|cannot|prohibit\w*|forbid\w*)\b|n't\b")


def _inserted_prohibitions(edits: list) -> list[str]:
    """The inserted passages of the edits that state a prohibition of their own."""
    inserted = [prepare_text(edit.new) for edit in edits if len(edit.new.split()) >= 4]
    return [passage for passage in inserted if _PROHIBITION.search(passage)]


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


_LINKING_WORDS = {"a", "an", "the", "or", "and", "of", "to", "for", "any", "other", "use", "uses"}


def _lost_in_merge(part: Clause, whole: Clause, split: bool = False) -> list[tuple[int, str]]:
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
    features = [_features(s) for s in sources]
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


def _relabel_reason(before: Clause, after: Clause) -> str:
    if before.label != after.label and before.label and after.label:
        return f"renumbered {before.label} → {after.label}; same text"
    return "formatting or numbering changed; same text"


def _reworded_reason(before: Clause, after: Clause, relation: str) -> str:
    if relation == "merged":
        return "merged into another clause that keeps the same rule"
    if relation == "split":
        return "split out of a longer clause; same rule"
    edits = wording_edits(word_diff(before.text, after.text))
    if not edits:
        return "reworded, same rule (punctuation or spacing)"
    more = f" and {len(edits) - 3} more" if len(edits) > 3 else ""
    return f"reworded, same rule: {'; '.join(edits[:3])}{more}"


def wording_edits(diff: Diff) -> list[str]:
    """A diff as edits a person reads: "'Llama 2' became 'Meta Llama 3'", "'shall' removed", "'or' added"."""
    return [edit.describe() for edit in edits_of(diff) if edit.old or edit.new]


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
