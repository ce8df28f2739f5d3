"""Alignment: two versions' clauses in, pairs of (previous, current) clauses matched by content out."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.clauses import Clause
from monitor.clauses.classify import load_rules
from monitor.memo import text_memo

# A run of Chinese (or Japanese, Korean) characters between punctuation counts as one word.
_WORD = re.compile(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_LABEL = re.compile(r"^\s*(?:[•*\-]\s*)?(?:\(?[a-zA-Z0-9]{1,6}\)|(?:[A-Z]\.)?\d+(?:\.\d+)*\.?|[a-zA-Z]{1,4}\.)\s+")
# A pair of clauses is the same clause reworded when this much of their vocabulary is shared.
MATCH_THRESHOLD = 0.5
# A clause folded into (or split out of) another keeps this share of its words there.
CONTAINMENT_THRESHOLD = 0.8


@dataclass
class Alignment:
    """Which previous clause each current clause continues, plus merges and splits."""

    pairs: list[tuple[int, int]] = field(default_factory=list)  # (previous index, current index)
    merged: dict[int, list[int]] = field(default_factory=dict)  # current index -> previous indexes folded in
    split_from: dict[int, int] = field(default_factory=dict)  # current index -> previous index it came from
    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)  # current clauses repeating another current clause


def strip_label(text: str) -> str:
    """The clause text without its leading item label ("(iv) ", "3.3. ", "• ")."""
    return _LABEL.sub("", text.strip())


@text_memo
def content_of(text: str) -> str:
    """The clause's words without its item label, quotes, punctuation or case."""
    text = _LABEL.sub("", text.strip())
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


# Alignment compares every vanished clause with every clause of the other version: each text's
# words are computed once, not once per pair.
@text_memo
def _words(text: str) -> frozenset[str]:
    return frozenset(w for word in content_of(text).split() for w in _pieces(word) if len(w) > 1)


def _pieces(word: str) -> list[str]:
    """A word, or for a run of Chinese characters (which has no spaces) its pairs of adjacent characters."""
    if len(word) < 3 or word[0] < "\u3040":
        return [word]
    return [word[i:i + 2] for i in range(len(word) - 1)]


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _dice_bound(a: frozenset[str], b: frozenset[str]) -> float:
    """The largest Dice coefficient sets of these sizes can have."""
    return 2 * min(len(a), len(b)) / (len(a) + len(b)) if a and b else 0.0


def align_clauses(previous: list[Clause], current: list[Clause]) -> Alignment:
    """Match clauses across versions: identical text first, then the most similar wording, then merges and splits."""
    result = Alignment()
    prev_contents = [content_of(c.text) for c in previous]
    cur_contents = [content_of(c.text) for c in current]
    # A text repeated inside one version (a page captured twice) is aligned once; its copies follow it.
    prev_first = {content: i for i, content in reversed(list(enumerate(prev_contents)))}
    cur_first = {content: j for j, content in reversed(list(enumerate(cur_contents)))}
    result.duplicates = [j for j, content in enumerate(cur_contents) if cur_first[content] != j]
    prev_free = {i for i, content in enumerate(prev_contents) if prev_first[content] == i}
    cur_free = {j for j, content in enumerate(cur_contents) if cur_first[content] == j}
    for j in sorted(cur_free):
        i = prev_first.get(cur_contents[j])
        if i is not None:
            result.pairs.append((i, j))
            prev_free.discard(i)
            cur_free.discard(j)
    # Rules continue rules and boilerplate continues boilerplate: a watched clause is paired with an unwatched
    # one only when nothing better is left (a list item rewritten as an indemnity item is not the same rule).
    _match_similar(previous, current, prev_free, cur_free, result, MATCH_THRESHOLD, same_status=True)
    _match_merges(previous, current, prev_free, cur_free, result)
    # After a rewrite, a watched clause most like a vanished watched clause of the same category continues it.
    _match_similar(previous, current, prev_free, cur_free, result, 0.3, same_category=True)
    _match_rule_merges(previous, current, prev_free, result)
    _match_similar(previous, current, prev_free, cur_free, result, MATCH_THRESHOLD)
    result.removed = sorted(prev_free)
    result.added = sorted(cur_free)
    result.pairs.sort(key=lambda pair: pair[1])
    return result


def _rule_classes(clause: Clause) -> set[str]:
    """The classes of what a watched clause forbids: its actions and objects, without attempt/facilitate."""
    features = clause.features or {}
    names = set(features.get("actions", [])) | set(features.get("objects", []))
    return names - {"attempt", "facilitate"}


def _classes_of(names: set[str]) -> set[str]:
    """Action and object names as their classes (rules.yaml `action_classes`, `object_classes`)."""
    features = load_rules().features
    mapping = {**features["object_classes"], **features["action_classes"]}
    return {mapping.get(name, name) for name in names if mapping.get(name, name) is not None}


def _match_rule_merges(previous: list[Clause], current: list[Clause], prev_free: set[int], result: Alignment) -> None:
    """A vanished watched clause whose rule another watched clause now states (same categories, its actions and
    objects all named there) was folded into it: "You may not share your API Key with any third party" into
    "You may not make your account credentials (including any API keys) available to third parties, ...".
    """
    watched = [j for j, clause in enumerate(current) if clause.watched]
    for i in sorted(prev_free):
        clause = previous[i]
        needed = _rule_classes(clause)
        if not clause.watched or not needed:
            continue
        best, best_score = None, 0.0
        words = _words(clause.text)
        for j in watched:
            other = current[j]
            if not set(clause.categories) <= set(other.categories):
                continue
            features = other.features or {}
            covered = set(features.get("actions_all", [])) | set(features.get("objects_all", []))
            covered |= set(features.get("actions", [])) | set(features.get("objects", []))
            if not _classes_of(needed) <= _classes_of(covered):
                continue
            score = _dice(words, _words(other.text))
            if score > best_score:
                best, best_score = j, score
        if best is not None and best_score >= 0.2:
            result.merged.setdefault(best, []).append(i)
            prev_free.discard(i)


def _match_similar(previous: list[Clause], current: list[Clause], prev_free: set[int], cur_free: set[int],
                   result: Alignment, threshold: float, same_category: bool = False, same_status: bool = False) -> None:
    if not prev_free or not cur_free:
        return
    prev_pool = [i for i in prev_free if previous[i].watched or not same_category]
    cur_pool = [j for j in cur_free if current[j].watched or not same_category]
    prev_words = {i: _words(previous[i].text) for i in prev_pool}
    cur_words = {j: _words(current[j].text) for j in cur_pool}
    index: dict[str, set[int]] = defaultdict(set)
    for i, words in prev_words.items():
        for word in words:
            index[word].add(i)
    # read once, not once per pair: this loop runs for every pair of vanished and new clauses sharing a word
    prev_watched = {i: previous[i].watched for i in prev_pool}
    prev_categories = {i: set(previous[i].categories) for i in prev_pool} if same_category else {}
    scored: list[tuple[float, int, int]] = []
    for j, words in cur_words.items():
        candidates: set[int] = set()
        for word in words:
            candidates |= index.get(word, set())
        watched, categories = current[j].watched, set(current[j].categories)
        for i in candidates:
            if same_category and not prev_categories[i] & categories:
                continue
            if same_status and prev_watched[i] != watched:
                continue
            if not same_category and _dice_bound(prev_words[i], words) < threshold:
                continue  # the score is at most the Dice coefficient, which is at most this
            score = _dice(prev_words[i], words)
            if same_category:
                # A redrafted rule keeps what it forbids even when its wording changes.
                shared = _rule_classes(previous[i]) & _rule_classes(current[j])
                union = _rule_classes(previous[i]) | _rule_classes(current[j])
                score = max(score, 0.5 * len(shared) / len(union)) if union else score
            if prev_watched[i] != watched:
                score -= 0.1  # a rule rarely turns into boilerplate: prefer the watched counterpart
            if score >= threshold:
                # Prefer the clause in the same place when scores tie.
                position = abs(i / max(len(previous), 1) - j / max(len(current), 1))
                scored.append((score - 0.01 * position, i, j))
    scored.sort(reverse=True)
    for _, i, j in scored:
        if i in prev_free and j in cur_free:
            result.pairs.append((i, j))
            prev_free.discard(i)
            cur_free.discard(j)


def _match_merges(previous: list[Clause], current: list[Clause], prev_free: set[int], cur_free: set[int],
                  result: Alignment) -> None:
    """A vanished clause whose words live on inside a current clause was merged into it (and vice versa)."""
    prev_words, cur_words = [_words(c.text) for c in previous], [_words(c.text) for c in current]
    cur_watched = [c.watched for c in current]
    for i in sorted(prev_free):
        # a rule's words reused in boilerplate (an indemnity list) do not carry the rule
        hosts = [j for j in range(len(current)) if cur_watched[j]] if previous[i].watched else range(len(current))
        best = _most_containing(prev_words[i], hosts, cur_words)
        if best is not None:
            result.merged.setdefault(best, []).append(i)
            prev_free.discard(i)
    for j in sorted(cur_free):
        best = _most_containing(cur_words[j], range(len(previous)), prev_words)
        if best is not None:
            result.split_from[j] = best
            cur_free.discard(j)


def _most_containing(words: frozenset[str], candidates: Iterable[int], candidate_words: list[frozenset[str]]
                     ) -> int | None:
    """The first of the larger candidates that holds the largest share of `words`, if that share is at least
    CONTAINMENT_THRESHOLD."""
    size = len(words)
    best, best_shared = None, 0
    for index in candidates:  # the shares have one denominator: the shared words order them
        other = candidate_words[index]
        if len(other) > size:
            shared = len(words & other)
            if shared > best_shared:
                best, best_shared = index, shared
    return best if size and best_shared / size >= CONTAINMENT_THRESHOLD else None
