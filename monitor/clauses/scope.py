"""Scope of a clause's words: a word diff in, each edit named as cosmetic (which kind) or substantive; scope orders.

`reworded` is claimed only for the cosmetic kinds of scope.yaml. Every other edit is substantive and keeps
a change at least `unclear`; the ordered vocabularies (model classes, bound parties, added alternatives)
turn what they recognise into a direction.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SCOPE_PATH = Path(__file__).with_name("scope.yaml")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WORD = re.compile(r"[\w’']+", re.UNICODE)
_URL = re.compile(r"https?://|www\.|\.(?:com|org|net|ai|io|html?)\b", re.I)
# A quoted capitalised term: how documents declare the names they use ("Meta Model API", “Vibe”).
_DECLARED = re.compile(r"[“\"]([A-Z][^”\"]{0,60})[”\"]")
_LINK = re.compile(r"https?://\S+|www\.\S+|\]\([^)\s]+\)")
_SEPARATOR = re.compile(r"^(?:,|;|/|or\b|and\b|nor\b|and/or\b)|(?:,|;|/|\bor|\band|\bnor|\band/or)$", re.I)

_ILLUSTRATION = re.compile(r"(?:including|includes|such as|e\.g\.|for example|i\.e\.)\b", re.I)
# An exception or condition added after a comma is no alternative: the features judge exceptions.
_EXCEPTION_OPENER = re.compile(r"(?:except|unless|other than|excluding|without|provided|if|subject to|save)\b", re.I)

Diff = list[tuple[int, str]]


@dataclass(frozen=True)
class Edit:
    """One run of deleted and inserted words between unchanged text; `kind` is its cosmetic kind or ""."""

    old: str
    new: str
    kind: str
    following: str = ""
    preceding: str = ""
    # Where the edit stands: character offsets in the diffed before and after texts.
    old_at: tuple[int, int] = (0, 0)
    new_at: tuple[int, int] = (0, 0)

    @property
    def cosmetic(self) -> bool:
        return bool(self.kind)

    def describe(self) -> str:
        old, new = _quote(self.old), _quote(self.new)
        if old and new:
            return f"{old} became {new}"
        return f"{old} removed" if old else f"{new} added"


@dataclass(frozen=True)
class ScopeData:
    function_words: frozenset[str]
    modal_groups: tuple[frozenset[str], ...]
    boilerplate_words: frozenset[str]
    company_forms: frozenset[str]
    scope_nouns: frozenset[str]
    model_class_words: frozenset[str]
    model_classes: tuple[tuple[str, re.Pattern[str]], ...]
    party_classes: dict[str, re.Pattern[str]]


@lru_cache(maxsize=1)
def load_scope() -> ScopeData:
    """Read scope.yaml (once)."""
    data: dict[str, Any] = yaml.load(SCOPE_PATH.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    cosmetic = data["cosmetic"]
    return ScopeData(
        function_words=frozenset(cosmetic["function_words"]),
        modal_groups=tuple(frozenset(group) for group in cosmetic["modal_groups"]),
        boilerplate_words=frozenset(cosmetic["boilerplate_words"]),
        company_forms=frozenset(cosmetic["company_forms"]),
        scope_nouns=frozenset(data["scope_nouns"]),
        model_class_words=frozenset(data["model_class_words"]),
        model_classes=tuple((entry["name"], re.compile(entry["pattern"])) for entry in data["model_classes"]),
        party_classes={name: re.compile(pattern) for name, pattern in data["party_classes"].items()},
    )


def declared_names(texts: list[str]) -> frozenset[str]:
    """The quoted capitalised terms a document declares, lower-cased ("meta model api", "vibe")."""
    return frozenset(m.group(1).strip().lower() for text in texts for m in _DECLARED.finditer(text))


def edits_of(diff: Diff) -> list[Edit]:
    """The diff's runs of deletions and insertions, each classed (see `cosmetic_kind`)."""
    edits: list[Edit] = []
    deleted = inserted = kept = ""
    before_at = after_at = 0
    for op, text in diff + [(0, "")]:
        if op < 0:
            deleted += text
        elif op > 0:
            inserted += text
        else:
            if deleted or inserted:
                edits.append(Edit(deleted.strip(), inserted.strip(), "", text, kept,
                                  (before_at, before_at + len(deleted)), (after_at, after_at + len(inserted))))
            kept = text
            before_at += len(deleted) + len(text)
            after_at += len(inserted) + len(text)
            deleted = inserted = ""
    return edits


def classify_edits(diff: Diff, declared: frozenset[str] = frozenset()) -> list[Edit]:
    """Every edit of the diff with its cosmetic kind filled in ("" for a substantive edit)."""
    before = "".join(text for op, text in diff if op <= 0)
    after = "".join(text for op, text in diff if op >= 0)
    links = [m.span() for m in _LINK.finditer(before)], [m.span() for m in _LINK.finditer(after)]
    classified = []
    for edit in edits_of(diff):
        in_link = _within(edit.old_at, links[0]) and _within(edit.new_at, links[1])
        classified.append(replace(edit, kind="link target" if in_link else cosmetic_kind(edit, declared)))
    return classified


def _within(at: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return at[0] == at[1] or any(start <= at[0] and at[1] <= end for start, end in spans)


def cosmetic_kind(edit: Edit, declared: frozenset[str] = frozenset()) -> str:
    """The closed list of edits that never change a rule; "" when the edit is none of them."""
    scope = load_scope()
    old_words, new_words = _words(edit.old), _words(edit.new)
    if not old_words and not new_words:
        return "punctuation or spacing"
    if old_words == new_words:
        return "case"
    if _URL.search(edit.old + " " + edit.new) and not (_content(old_words) ^ _content(new_words)) - _url_words(edit):
        return "link target"
    if not _content(old_words) and not _content(new_words):
        return "function words"
    if _modal_swap(edit, scope):
        return "modal verb"
    if (_content(old_words) | _content(new_words)) - {"and", "or"} <= scope.boilerplate_words:
        return "legal boilerplate"
    if (_content(old_words) | _content(new_words)) <= scope.company_forms:
        return "company form"
    if _typo(old_words, new_words):
        return "spelling"
    if _renamed(edit, declared, scope):
        return "renamed term"
    if _product_version(edit):
        return "product version"
    if edit.old and edit.new and _same_amount(edit.old, edit.new):
        return "amount restated"
    return ""


def _same_amount(old: str, new: str) -> bool:
    """"700 million" → "seven hundred million (700,000,000)": one amount written another way."""
    from monitor.clauses.amounts import read_amount  # amounts imports nothing of scope; kept local for start-up

    before, after = read_amount(old), read_amount(new)
    return before is not None and before == after


def _product_version(edit: Edit) -> bool:
    """A version number of a named product ("Meta Llama 3" → "Meta Llama 3.1", "Gemma 2" → "Gemma 3")."""
    numbers = re.compile(r"^[\d.]+$")
    words = _WORD.findall(edit.old) + _WORD.findall(edit.new)
    return bool(words) and all(numbers.match(w) for w in words) \
        and bool(re.search(r"\b[A-Z][\w-]+(?: [\d.]+)?[ .]?$", edit.preceding))


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def _content(words: list[str]) -> set[str]:
    function_words = load_scope().function_words
    return {w for w in words if w not in function_words}


def _url_words(edit: Edit) -> set[str]:
    urls = " ".join(token for token in (edit.old + " " + edit.new).split() if _URL.search(token))
    return set(_words(urls))


def _modal_swap(edit: Edit, scope: ScopeData) -> bool:
    old, new = " ".join(_words(edit.old)), " ".join(_words(edit.new))
    follows_not = bool(re.match(r"\s*not\b", edit.following))
    candidates = [(old, new)] + ([(f"{old} not", f"{new} not")] if follows_not else [])
    return any(o in group and n in group for o, n in candidates for group in scope.modal_groups if o != n)


def _typo(old_words: list[str], new_words: list[str]) -> bool:
    if len(old_words) != 1 or len(new_words) != 1:
        return False
    old, new = old_words[0], new_words[0]
    return (min(len(old), len(new)) >= 4 and old[0] == new[0] and abs(len(old) - len(new)) <= 1
            and difflib.SequenceMatcher(None, old, new).ratio() >= 0.8)


def _name_like(text: str) -> bool:
    words = _WORD.findall(text)
    joiners = {"or", "and", "of", "the", "&", "for"}
    return bool(words) and all(w[:1].isupper() or w.lower() in joiners for w in words) \
        and any(w[:1].isupper() for w in words)


def _renamed(edit: Edit, declared: frozenset[str], scope: ScopeData) -> bool:
    """A product, company or defined term renamed: names on both sides (or a name word dropped or added
    inside a name), adding or dropping no scope noun unless the document declares the new name."""
    if edit.old and not _name_like(edit.old) or edit.new and not _name_like(edit.new):
        return False
    if not (edit.old and edit.new):
        if not re.match(r"\s*[A-Z]", edit.following) or re.search(r",|\b(?:or|and)\b", edit.old or edit.new):
            return False
    changed = set(_words(edit.old)) ^ set(_words(edit.new))
    inside_name = bool(re.search(r"\b[A-Z][\w-]*\s*$", edit.preceding))
    name_goes_on = bool(re.match(r"\s*[A-Z][\w-]*", edit.following))
    # The name's head stays ("Llama API key" → "Meta Model API key", "Meta AI Materials" → "Meta Materials"),
    # unless the words that changed say which models are covered ("Large Language Model" → "AI Model").
    if name_goes_on and (inside_name or not changed & scope.model_class_words):
        return True
    if not changed & scope.scope_nouns:
        return True
    new_name = " ".join(edit.new.split()).lower()
    following = " ".join(_WORD.findall(edit.following)[:3]).lower()
    return bool(new_name) and any(name.startswith(new_name) and name[len(new_name):].strip() in following[:len(name)]
                                  for name in declared)


def explained_by_vocabulary(edit: Edit, before: str, after: str, patterns: list[re.Pattern[str]]) -> bool:
    """Whether every word the edit changes stands inside a phrase of the features' vocabulary (acts and
    objects), so that comparing the features by class has already judged it."""
    for text, (start, end) in ((before, edit.old_at), (after, edit.new_at)):
        if start == end:
            continue
        lowered = text.lower().replace("’", "'")
        spans = [m.span() for p in patterns for m in p.finditer(lowered)]
        for word in re.finditer(r"[\w'-]+", lowered[start:end]):
            if word.group(0) in load_scope().function_words | {"or", "and", "otherwise", "any", "other"}:
                continue
            at = start + word.start()
            if not any(s <= at < e for s, e in spans):
                return False
    return True


def substantive_reason(edits: list[Edit], limit: int = 3) -> str:
    """'scope words changed: 'large language' removed; ...' for the edits no cosmetic kind explains."""
    substantive = [e.describe() for e in edits if not e.cosmetic]
    more = f" and {len(substantive) - limit} more" if len(substantive) > limit else ""
    return "words that may carry the rule changed: " + "; ".join(substantive[:limit]) + more


# ---------------------------------------------------------------- scope orders

def model_class(prepared: str) -> tuple[int, str] | None:
    """The broadest class of model a prepared clause names, as (rank, name); None when it names none.

    A narrower phrase is taken out before a broader one is looked for, so "large language model" is not
    also "any model".
    """
    best = None
    text = prepared
    for rank, (name, pattern) in enumerate(load_scope().model_classes):
        if pattern.search(text):
            best = (rank, name)
            text = pattern.sub(" ", text)
    return best


def bound_classes(prepared: str) -> set[str]:
    """The classes of party a restriction binds: those named before its prohibition ("You or your affiliates
    will not ...") or whom the bound party must not let do it ("permit any third party to")."""
    subject = re.split(r"\b(?:will|shall|may|must|can|do|does|are|is|agrees?) not\b|\bcannot\b|n't\b|\bnever\b"
                       r"|\bagrees? to\b|\bis prohibited\b|\bare prohibited\b", prepared, maxsplit=1)
    areas = [subject[0]] if len(subject) > 1 else []
    areas += [m.group(1) for m in re.finditer(
        r"\b(?:permit|allow|enable|authori[sz]e|cause|assist|help|encourage)\w* ((?:[\w-]+ ){0,6}?)to\b", prepared)]
    classes = load_scope().party_classes
    return {name for name, pattern in classes.items() for area in areas if pattern.search(area)}


def scope_signals(before: str, after: str, sign_of: int, trains_models: bool) -> list[tuple[int, str]]:
    """Model class and bound-party widenings between two prepared clause texts (sign_of: +1 for a restriction).

    The class of model counts only in a clause about training or building models (`trains_models`): in
    "derive the underlying models" the models are what is protected, not what may not be built.
    """
    signals: list[tuple[int, str]] = []
    b, a = (model_class(before), model_class(after)) if trains_models else (None, None)
    if b and a and a[0] != b[0]:
        widened = a[0] > b[0]
        signals.append((sign_of if widened else -sign_of,
                        f"model class {'widened' if widened else 'narrowed'} from {b[1]} to {a[1]}"))
    b_parties, a_parties = bound_classes(before), bound_classes(after)
    if b_parties and a_parties:
        for party in sorted(a_parties - b_parties):
            signals.append((sign_of, f"now also binds {party}"))
        for party in sorted(b_parties - a_parties):
            signals.append((-sign_of, f"no longer binds {party}"))
    return signals


def is_alternative(edit: Edit) -> bool:
    """An edit that only adds or drops members of a list ("or otherwise obtaining", "data or"), not an illustration."""
    if edit.old and edit.new:
        return False
    text = (edit.new or edit.old).strip()
    opening = text.strip(" ,;(")
    return not _ILLUSTRATION.match(opening) and not _EXCEPTION_OPENER.match(opening) and bool(_SEPARATOR.search(text)) \
        and bool(_content(_words(text)) - {"or", "and", "nor", "otherwise"})


def alternative_signals(edits: list[Edit], exception_spans: list[str], sign_of: int) -> list[tuple[int, str]]:
    """Alternatives added to a rule's lists ("Scraping" → "Scraping or otherwise obtaining", "use" → "access or
    use"): more alternatives in a prohibition widen it, in its exceptions narrow it."""
    signals = []
    for edit in edits:
        # A dropped alternative may be covered by what remains ("or otherwise attempt to"): left to review.
        if edit.cosmetic or edit.old or not is_alternative(edit):
            continue
        text = edit.new
        in_exception = any(text.lower() in span for span in exception_spans)
        sign = sign_of * (-1 if in_exception else 1)
        what = "exception alternatives" if in_exception else "alternatives"
        signals.append((sign, f"{what} added: {_quote(text)}"))
    return signals


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    return f"'{text if len(text) <= limit else text[:limit - 1].rstrip() + '…'}'"
