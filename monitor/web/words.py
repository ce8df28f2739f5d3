"""Words the pages show: category labels and direction symbols, a change's reason in words, a clause's excerpt,
and names that tell the clauses of a list apart."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

__all__ = ["CATEGORY_LABELS", "DIRECTION_SYMBOLS", "EXCERPT_CHARACTERS", "clause_labels", "excerpt",
           "reason_in_words"]

DIRECTION_SYMBOLS = {"tightened": "▲", "loosened": "▼", "reworded": "≈", "unclear": "?"}
CATEGORY_LABELS = {
    "output_training": "Training on outputs",
    "competing_use": "Competing use",
    "reverse_engineering": "Reverse engineering",
    "automated_extraction": "Automated extraction",
    "access_circumvention": "Access circumvention",
    "output_training_permission": "Permission to train on outputs",
    "scale_threshold": "Scale threshold",
    "attribution_naming": "Attribution / naming",
    "use_policy": "Use policy",
    "geographic_restriction": "Geographic restriction",
}

# "now also a automated_extraction clause" (the reason as `changes` stores it) → "now also an automated
# extraction clause"
_CATEGORY_IN_REASON = re.compile(r"\b(?:(an?) )?(" + "|".join(sorted(CATEGORY_LABELS, key=len, reverse=True)) + r")\b")


def reason_in_words(reason: str) -> str:
    """A change's reason with category ids as words, and the article that goes with them."""
    def words(match: re.Match[str]) -> str:
        label = CATEGORY_LABELS[match.group(2)].lower().replace(" / ", " or ")
        if not match.group(1):
            return label
        return ("an " if label[0] in "aeiou" else "a ") + label
    return _CATEGORY_IN_REASON.sub(words, reason or "")



EXCERPT_CHARACTERS = 220


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The start of a clause's text on one line, cut at a word within `limit` characters."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(",;:") + " …"


def clause_labels(clauses: list[dict[str, Any]]) -> list[str]:
    """How to name each clause of a list: its path, and where two paths are equal (a document may number two
    clauses 1.5) the first words in which their texts differ, so no two names in the list are the same."""
    names = [clause["path"] or clause.get("heading") or "unnumbered clause" for clause in clauses]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        groups[name].append(index)
    labels = list(names)
    for name, members in groups.items():
        if len(members) > 1:
            for index, label in zip(members, _distinct_names(name, [clauses[i]["text"] for i in members])):
                labels[index] = label
    return labels


def _distinct_names(name: str, texts: list[str]) -> list[str]:
    """`name` and a quote from where the texts start to differ; numbered when the texts are the same."""
    words = [text.split() for text in texts]
    same = 0
    while all(len(w) > same for w in words) and len({w[same] for w in words}) == 1:
        same += 1
    start = max(0, same - 1)
    names = [f"{name} “{'… ' if start else ''}{excerpt(' '.join(w[start:]), 32)}”" for w in words]
    if len(set(names)) < len(names):
        names = [f"{name} ({number} of {len(texts)})" for number in range(1, len(texts) + 1)]
    return names
