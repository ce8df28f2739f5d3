"""Threshold changes: two versions' thresholds in (as stored features), the signed signals of their change out
(+1 tightened, -1 loosened, with the reason a person reads)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from monitor.clauses.thresholds import USER_QUANTITIES, Threshold

__all__ = ["Signal", "compare_thresholds"]

# Revenue is annual unless the clause says otherwise.
_DEFAULT_PERIODS = {"revenue": "year"}
_WORDS_OF = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most"}

Signal = tuple[int, str]


def compare_thresholds(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[Signal]:
    """Signals (+1 tightened, -1 loosened, reason) of the change between two versions' thresholds.

    Thresholds are matched by quantity (several of one quantity in value order). Each threshold binds one
    side of its amount, the *restricted side*:
    - `licence_needed_above` ("greater than N ... you must request a license"): the side its comparison
      names; above N. Lowering N brings more licensees above it: tightened. Raising N: loosened.
    - `exempt_below` ("does not apply if ... less than N", "free for fewer than N"): the other side of the
      exemption; at or above N. Lowering N leaves fewer exempt: tightened, like a lowered licence threshold.
    - `limit` ("no more than N devices"): beyond the limit. Lowering N allows less: tightened.
    - `condition` (a comparison with no stated consequence): the side named when it is above N; below N it
      cannot be told, and any change is unclear.
    - An earlier version's stored {"value", "unit", "text"} has no comparison or phrasing: it is read with the
      other version's, so only its amount is compared (lowered = tightened, as before).
    With the restricted side of both versions above N, a smaller N or a boundary that now includes N
    ("greater than" → "at least") tightens; below N (a licence needed *below* an amount), the reverse. A
    restricted side that flips, a change of phrasing over the same amount, a change of currency or
    period, a measure of users that changed (monthly → daily), and words and figures that disagree are
    unclear: they come as a pair of signals (+1 and -1) with the same reason, which `_direction` reads as
    `unclear`. A threshold that appears tightens and one that disappears loosens, except an exemption:
    an exemption added or removed is unclear (loosened if the rule bound everyone before, tightened if it
    bound no one).
    """
    before_t = [Threshold.from_feature(f) for f in before]
    after_t = [Threshold.from_feature(f) for f in after]
    signals: list[Signal] = []
    gone: list[Threshold] = []
    new: list[Threshold] = []
    for quantity in dict.fromkeys(t.quantity for t in before_t + after_t):
        old = sorted((t for t in before_t if t.quantity == quantity), key=lambda t: t.value)
        now = sorted((t for t in after_t if t.quantity == quantity), key=lambda t: t.value)
        for b, a in zip(old, now):
            signals += _pair_signals(b, a)
        gone += old[len(now):]
        new += now[len(old):]
    for b, a in _measure_changes(gone, new):
        gone.remove(b)
        new.remove(a)
        signals += _unclear(f"threshold measure changed from {_describe(b)} to {_describe(a)}")
    for threshold in new:
        signals += _appeared(threshold)
    for threshold in gone:
        signals += _disappeared(threshold)
    return signals


def _unclear(reason: str) -> list[Signal]:
    return [(1, reason), (-1, reason)]


def _pair_signals(b: Threshold, a: Threshold) -> list[Signal]:
    b, a = _with_legacy_filled(b, a), _with_legacy_filled(a, b)
    if _same(b, a):
        return []
    for threshold in (b, a):
        if not threshold.consistent:
            words, figures = (_amount(v or 0, threshold.currency) for v in (threshold.value, threshold.other_value))
            return _unclear(f"words and figures disagree in '{threshold.text}': {words} against {figures}")
    if b.currency != a.currency:
        return _unclear(f"threshold currency changed from {b.currency or 'unstated'} to {a.currency or 'unstated'}:"
                        f" {_describe(b)} and {_describe(a)} cannot be compared")
    if _period(b) != _period(a):
        return _unclear(f"threshold period changed: {_describe(b)} and {_describe(a)} cannot be compared")
    restricted_b, restricted_a = _restricted(b), _restricted(a)
    rephrased = b.phrasing != a.phrasing and None not in (b.phrasing, a.phrasing)
    if restricted_b is None or restricted_a is None or restricted_b[0] != restricted_a[0]:
        return _unclear(f"threshold changed from {_describe(b)} to {_describe(a)}: which side the rule binds changed"
                        " or cannot be told")
    if rephrased and math.isclose(b.value, a.value):
        return _unclear(f"threshold rephrased from {_PHRASE[b.phrasing]} to {_PHRASE[a.phrasing]} "
                        f"{_describe(a, comparison=False)}; same amount")
    sign = _widening(restricted_b, restricted_a)
    if sign == 0:
        return []
    reason = _value_reason(b, a, restricted_a[0])
    if rephrased:
        reason += f" (rephrased from {_PHRASE[b.phrasing]} to {_PHRASE[a.phrasing]})"
    return [(sign, reason)]


_PHRASE = {"licence_needed_above": "a licence needed above", "exempt_below": "an exemption below",
           "limit": "a limit", "condition": "a condition"}


def _with_legacy_filled(threshold: Threshold, other: Threshold) -> Threshold:
    """An earlier version's stored threshold, read with the other version's comparison and phrasing."""
    if threshold.comparison is not None or other.comparison is None:
        return threshold
    return replace(threshold, comparison=other.comparison, phrasing=other.phrasing, currency=other.currency,
                   period=other.period)


def _same(b: Threshold, a: Threshold) -> bool:
    return (b.quantity, b.comparison, b.phrasing, b.currency, _period(b), b.consistent) == \
        (a.quantity, a.comparison, a.phrasing, a.currency, _period(a), a.consistent) \
        and math.isclose(b.value, a.value) and math.isclose(b.other_value or 0, a.other_value or 0)


def _period(threshold: Threshold) -> str | None:
    return threshold.period or _DEFAULT_PERIODS.get(threshold.quantity)


def _restricted(threshold: Threshold) -> tuple[str, float, bool | None] | None:
    """The side of the amount the rule binds: ("above" | "below", amount, whether the amount itself is bound)."""
    if threshold.comparison is None:  # two earlier versions' stored thresholds: the old reading, above N
        return "above", threshold.value, None
    side = "above" if threshold.comparison in (">", ">=") else "below"
    inclusive = threshold.comparison in (">=", "<=")
    if threshold.phrasing in ("exempt_below", "limit"):
        side, inclusive = ("below" if side == "above" else "above"), not inclusive
    elif threshold.phrasing == "condition" and side == "below":
        return None
    return side, threshold.value, inclusive


def _widening(b: tuple[str, float, bool | None], a: tuple[str, float, bool | None]) -> int:
    """+1 when the bound side grew, -1 when it shrank, 0 when it is the same."""
    side, old, old_inclusive = b
    _, new, new_inclusive = a
    if not math.isclose(old, new):
        lower = new < old
        return 1 if lower == (side == "above") else -1
    if old_inclusive is None or new_inclusive is None or old_inclusive == new_inclusive:
        return 0
    return 1 if new_inclusive else -1


def _value_reason(b: Threshold, a: Threshold, side: str) -> str:
    name = {"exempt_below": "exemption threshold", "limit": "limit"}.get(a.phrasing or "", "threshold")
    unit = _unit(a)
    if math.isclose(b.value, a.value):
        binds = "now also binds" if _restricted(a)[2] else "no longer binds"  # type: ignore[index]
        return (f"{name} {binds} exactly {_amount(a.value, a.currency)} {unit} "
                f"('{_WORDS_OF[b.comparison or '>']}' became '{_WORDS_OF[a.comparison or '>']}')")
    moved = "lowered" if a.value < b.value else "raised"
    reason = f"{name} {moved} from {_amount(b.value, b.currency)} to {_amount(a.value, a.currency)} {unit}"
    if a.phrasing == "exempt_below":
        reason += ": fewer are exempt" if moved == "lowered" else ": more are exempt"
    if side == "below":
        reason += " (the rule binds below it)"
    return reason


def _measure_changes(gone: list[Threshold], new: list[Threshold]) -> list[tuple[Threshold, Threshold]]:
    """A users threshold that disappeared beside one of another users measure that appeared: one changed threshold."""
    pairs = []
    for b in gone:
        for a in new:
            if b.quantity in USER_QUANTITIES and a.quantity in USER_QUANTITIES and a not in [p[1] for p in pairs]:
                pairs.append((b, a))
                break
    return pairs


def _appeared(threshold: Threshold) -> list[Signal]:
    if not threshold.consistent:
        return _unclear(f"new threshold whose words and figures disagree: '{threshold.text}'")
    if threshold.phrasing == "exempt_below":
        return _unclear(f"exemption added below {_describe(threshold, comparison=False)}: looser if the rule bound "
                        "everyone before, tighter if it bound no one")
    return [(1, f"new threshold: {_describe(threshold)}")]


def _disappeared(threshold: Threshold) -> list[Signal]:
    if threshold.phrasing == "exempt_below":
        return _unclear(f"exemption below {_describe(threshold, comparison=False)} removed: tighter if the rule now "
                        "binds everyone, looser if the rule went with it")
    return [(-1, f"threshold removed: {_describe(threshold)}")]


def _describe(threshold: Threshold, comparison: bool = True) -> str:
    words = f"{_WORDS_OF[threshold.comparison]} " if comparison and threshold.comparison else ""
    return f"{words}{_amount(threshold.value, threshold.currency)} {_unit(threshold)}"


def _unit(threshold: Threshold) -> str:
    if threshold.quantity == "revenue":
        return {"month": "monthly revenue", "quarter": "quarterly revenue", "day": "daily revenue"}.get(
            _period(threshold) or "", "annual revenue")
    return threshold.quantity


def _amount(value: float, currency: str | None) -> str:
    text = f"{value:,.0f}" if value == int(value) else f"{value:,}"
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if value >= scale:
            text = f"{round(value / scale, 3):g} {word}"
            break
    return f"{currency} {text}" if currency else text
