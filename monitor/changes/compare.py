"""Comparing two versions: their clauses in, the clauses keyed as before and a `ClauseChange` (kind, direction,
reason, word diff) for every change to a watched clause out."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from monitor.changes.diff import Diff, word_diff
from monitor.changes.signals import direction_of, feature_signals, is_permission, merge_signals, scope_order_signals
from monitor.clauses import Clause
from monitor.clauses.align import align_clauses, content_of, strip_label
from monitor.clauses.classify import extract_features, load_rules, matches_core_rule, prepare_text
from monitor.clauses.definitions import definitions_of, uses_term
from monitor.clauses.language import is_mainly_cjk
from monitor.clauses.scope import (classify_edits, declared_names, edits_of, explained_by_vocabulary, is_alternative,
                                   substantive_reason)

__all__ = ["ClauseChange", "compare_clauses", "definition_changes", "describe_change", "wording_edits"]


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
    # an exception written as its own clause is compared as part of the rule before it
    with_exception = {i: _with_next_exception(previous, i) for i, _ in alignment.pairs}
    folded = {i + 1 for i, clause in with_exception.items() if clause is not previous[i]}
    for i, j in alignment.pairs:
        merged = [previous[k] for k in alignment.merged.get(j, []) if k not in folded]
        change = describe_change(with_exception[i], _with_next_exception(keyed, j), merged,
                                 pieces=pieces.get(i, []), declared=declared)
        if change:
            changes.append(change)
    for j, sources in alignment.merged.items():
        sources = [k for k in sources if k not in folded]
        if not sources:
            continue
        if j not in paired_current and j in alignment.added:
            alignment.added.remove(j)  # its words are those of older clauses
        if j not in paired_current and set(keyed[j].categories) - {c for k in sources for c in previous[k].categories}:
            # A new clause that holds the words of older ones and states a rule none of them did (a prohibition
            # written into a paragraph): compared with all of them, so that what it adds counts too.
            change = describe_change(previous[sources[0]], keyed[j], [previous[k] for k in sources[1:]],
                                     declared=declared)
            if change:
                changes.append(change)
            continue
        for k in sources:
            change = describe_change(previous[k], keyed[j], [], relation="merged")
            if change:
                changes.append(change)
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


def _with_next_exception(clauses: list[Clause], index: int) -> Clause:
    """A watched clause with the exception written as the clause right after it ("This restriction does not
    apply to Enterprise customers."), so that removing that exception tightens the rule, adding it loosens
    it, and moving it into the rule's own sentence changes nothing."""
    clause = clauses[index]
    following = clauses[index + 1] if index + 1 < len(clauses) else None
    if not clause.watched or following is None or following.watched or not _is_exception(following.text):
        return clause
    text = f"{clause.text} {following.text}"
    return replace(clause, text=text, features=extract_features(text, clause.lead))


def _is_exception(text: str) -> bool:
    return bool(text) and load_rules().features["exceptions"]["not applicable"].search(prepare_text(text)) is not None


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
        if not (matches_core_rule(old_text) or matches_core_rule(new_text) or _names_outputs(term)):
            continue  # the term's meaning touches no watched kind of rule ("Work", "Licensor")
        for clause in current:
            if clause.watched and clause.key not in changed and uses_term(clause.text, term) and clause is not new:
                events.append(_definition_change(clause, term, old_text, new_text))
                changed.add(clause.key)
    return events


def _names_outputs(term: str) -> bool:
    """Whether a defined term names the outputs ("Output", "Generations"): what they cover is what every
    output-training rule covers."""
    return load_rules().features["objects"]["outputs"].search(prepare_text(term)) is not None


def _definition_change(clause: Clause, term: str, old: str, new: str) -> ClauseChange:
    before = replace(clause, text=old, features=extract_features(old) if old else {})
    after = replace(clause, text=new, features=extract_features(new) if new else {})
    signals = feature_signals([before], after) if old and new else []
    direction = direction_of(signals) if signals else "unclear"
    what = "; ".join(dict.fromkeys(text for _, text in signals)) or (
        "definition removed" if not new else "definition added" if not old
        else substantive_reason(classify_edits(word_diff(strip_label(old), strip_label(new)))))
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
        keyed.append(clause if key == clause.key else replace(clause, key=key))
    return keyed


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
    permissive = is_permission(clause.categories)
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
    lead_edits = _lead_edits(before, after, declared) if not relation else []
    if before.text == after.text and not merged and not relation and not lead_edits:
        return None
    categories = tuple(dict.fromkeys(before.categories + after.categories + tuple(c for m in merged for c in m.categories)))
    if content_of(before.text) == content_of(after.text) and not merged and not lead_edits:
        reason = _relabel_reason(before, after)
        return ClauseChange(after.key, after.path, "modified", categories, "reworded", reason, before.text,
                            after.text, word_diff(before.text, after.text))
    edits = classify_edits(word_diff(strip_label(before.text), strip_label(after.text)), declared)
    same_categories = set(before.categories) == set(after.categories)
    if not merged and not relation and same_categories and all(edit.cosmetic for edit in edits + lead_edits):
        return ClauseChange(after.key, after.path, "modified", categories, "reworded", _cosmetic_reason(edits),
                            before.text, after.text, word_diff(before.text, after.text))
    sources = [before, *merged]
    signals = feature_signals(sources, after, pieces, _inserted_prohibitions(edits))
    if relation == "merged":
        # A clause folded into a larger one: only what it loses counts.
        signals = merge_signals(before, after)
    elif relation == "split":
        signals = merge_signals(after, before, split=True)
    else:
        signals += scope_order_signals(before, after, merged, edits)
    if lead_edits:
        signals += _lead_negation_signals(before, after)
    direction = direction_of(signals)
    if signals:
        reason = "; ".join(dict.fromkeys(text for _, text in signals))
    elif relation or (not lead_edits and _explained_by_features(edits, before, after)):
        reason = _reworded_reason(before, after, relation)
    else:
        # Fail-safe: words that may carry the rule changed and nothing says how; a person reviews it.
        direction, reason = "unclear", substantive_reason(edits + lead_edits)
    if relation and signals:
        reason = f"{relation}: {reason}"
    shown_before, shown_after = (_with_lead(before), _with_lead(after)) if lead_edits else (before.text, after.text)
    return ClauseChange(after.key, after.path, "modified", categories, direction, reason, shown_before, shown_after,
                        word_diff(shown_before, shown_after))


def _lead_edits(before: Clause, after: Clause, declared: frozenset[str]) -> list:
    """The edits to a list item's lead-in ("You may not:" → "You may not, and may not permit anyone to:") when
    they change what a lead-in adds to its items: whether it forbids, and whom it binds. (Any other redraft
    of a lead-in, often a parent bullet, is its own clause's change.)"""
    if " ".join(before.lead.split()) == " ".join(after.lead.split()):
        return []
    if not _lead_negation_signals(before, after) and _lead_parties(before) == _lead_parties(after):
        return []
    edits = classify_edits(word_diff(strip_label(before.lead), strip_label(after.lead)), declared)
    return [edit for edit in edits if not edit.cosmetic]


def _lead_parties(clause: Clause) -> set[str]:
    return {match.group(1) for match in load_rules().features["bound_parties"].finditer(prepare_text(clause.lead))}


def _lead_negation_signals(before: Clause, after: Clause) -> list[tuple[int, str]]:
    """A lead-in that starts or stops forbidding ("You may:" → "You may not:") turns its items into bans or
    out of them (an item that leaves its list keeps the ban when its own words state it)."""
    negation = load_rules().negation
    had, has = (bool(negation.search(prepare_text(_with_lead(clause)))) for clause in (before, after))
    if has and not had:
        return [(1, f"the lead-in now forbids: '{after.lead.strip()}'")]
    if had and not has:
        return [(-1, f"the lead-in no longer forbids: '{after.lead.strip()}'")]
    return []


def _with_lead(clause: Clause) -> str:
    return f"{clause.lead} {clause.text}".strip()


def _cosmetic_reason(edits: list) -> str:
    if not edits:
        return "reworded, same rule (punctuation or spacing)"
    renames = [e for e in edits if e.kind == "renamed term"]
    if renames and len(renames) == len([e for e in edits if e.kind != "punctuation or spacing"]):
        return "renamed " + ", ".join(f"'{e.old}' → '{e.new}'" for e in renames[:4]) + "; same rule"
    shown = [f"{e.kind}: {e.describe()}" for e in edits if e.kind != "punctuation or spacing"][:3]
    return "reworded, same rule: " + ("; ".join(shown) if shown else "punctuation or spacing")


def _explained_by_features(edits: list, before: Clause, after: Clause) -> bool:
    """Every substantive edit swaps words of the acts' and objects' vocabulary, which the feature comparison
    judged by class ("exceed or bypass rate limits" → "circumvent or evade rate limits")."""
    features = load_rules().features
    patterns = list(features["actions"].values()) + list(features["objects"].values())
    b, a = strip_label(before.text), strip_label(after.text)
    return all(edit.cosmetic or (not is_alternative(edit) and explained_by_vocabulary(edit, b, a, patterns))
               for edit in edits)


# A passage that forbids something by itself ("For the avoidance of doubt, you may not resell ...").
_PROHIBITION = re.compile(r"\b(?:not|never|no one|nor|cannot|prohibit\w*|forbid\w*)\b|n't\b")


def _inserted_prohibitions(edits: list) -> list[str]:
    """The inserted passages of the edits that state a prohibition of their own."""
    inserted = [prepare_text(edit.new) for edit in edits if len(edit.new.split()) >= 4]
    # "This restriction does not apply to ..." says "not" but takes cases out: an exception, not a prohibition
    return [passage for passage in inserted if _PROHIBITION.search(passage) and not _is_exception(passage)]


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
