"""Prefilter for rule patterns: a regular expression in, strings of which every match contains one out.

Classifying a clause tries every rule, and most clauses match none. Python's `re` tries each branch
of a pattern at every position of the text, where `word in text` scans it in C: a rule whose pattern
needs one of {"scrap", "crawl", "spider", ...} cannot match a text that contains none of them, and that
is checked many times faster than the pattern itself.

The strings are read off the pattern's parse tree (`re._parser`, the parser `re.compile` itself uses),
keeping only what every match must contain: a run of literal characters, a group, the union over the
branches of an alternation, and the body of a repeat that occurs at least once. Anything else (classes,
lookarounds, optional parts, case-insensitive groups) contributes nothing, so the answer errs only
towards "no prefilter".
"""

from __future__ import annotations

import re

try:
    from re import _constants as sre_constants
    from re import _parser as sre_parser
except ImportError:  # Python < 3.11 named them sre_constants and sre_parse
    import sre_constants  # type: ignore[no-redef]
    import sre_parse as sre_parser  # type: ignore[no-redef]

# A set with a shorter string than this is too common in text to filter anything out.
MIN_LENGTH = 3
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)}


def required_strings(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings such that every match of `pattern` contains at least one of them; None if none are found.

    `word in text` for some word of the set is necessary for `pattern.search(text)`, never sufficient.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = sre_parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - a parser of another Python: no prefilter rather than a wrong one
        return None
    return _of_sequence(parsed.data)


def _of_sequence(items: list) -> frozenset[str] | None:
    """Every item of a sequence is in every match: the most selective item's strings will do."""
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, argument in [*items, (None, None)]:  # the sentinel ends the last run of literals
        if op is sre_constants.LITERAL:
            run.append(chr(argument))
            continue
        for candidate in (frozenset({"".join(run)}) if run else None, _of_item(op, argument)):
            if candidate is not None and (best is None or _selectivity(candidate) > _selectivity(best)):
                best = candidate
        run = []
    return best if best is not None and _selectivity(best)[0] >= MIN_LENGTH else None


def _of_item(op: object, argument: object) -> frozenset[str] | None:
    if op is sre_constants.SUBPATTERN:
        _group, add_flags, _del_flags, body = argument  # type: ignore[misc]
        return None if add_flags & re.IGNORECASE else _of_sequence(body.data)
    if op is sre_constants.BRANCH:
        branches = [_of_sequence(branch.data) for branch in argument[1]]  # type: ignore[index]
        if any(strings is None for strings in branches):
            return None
        return frozenset().union(*branches)  # type: ignore[arg-type]
    if op in _REPEATS:
        minimum, _maximum, body = argument  # type: ignore[misc]
        return _of_sequence(body.data) if minimum >= 1 else None
    if op is getattr(sre_constants, "ATOMIC_GROUP", None):
        return _of_sequence(argument.data)  # type: ignore[attr-defined]
    return None


def _selectivity(strings: frozenset[str]) -> tuple[int, int]:
    """Longer strings first (rarer in text), then fewer of them. A Chinese (or Japanese, Korean) character
    counts twice: "蒸馏" is as rare in text as any three letters."""
    return min(len(string) + sum(character >= "\u2e80" for character in string) for string in strings), -len(strings)
