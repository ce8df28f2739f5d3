"""Thresholds: a clause's text in, the thresholds it states out (quantity, amount, comparison, phrasing).

A threshold is an amount of a quantity of a small closed vocabulary (`QUANTITIES`) with a comparison
("greater than", "fewer than", "no more than", 超过 ...) and a phrasing: a licence needed above it
(`licence_needed_above`), an exemption below it (`exempt_below`), a limit (`limit`), or a bare condition
whose consequence the clause does not say (`condition`). Amounts are read by `amounts.py` from figures ("700
million", "US$1,000,000", "$1M", "1亿") and words ("seven hundred million", 一亿); an amount stated twice, in
words and in figures, is `consistent` only when both agree. Money counts only as revenue or funding: a
liability cap ("shall not exceed $100") names no quantity and is no threshold. How two versions' thresholds
differ is `threshold_changes.py`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from typing import Any

from monitor.clauses.amounts import Amount, find_amounts, normalise_text
from monitor.memo import text_memo

__all__ = ["COMPARISONS", "MONEY_QUANTITIES", "PHRASINGS", "QUANTITIES", "USER_QUANTITIES", "Threshold",
           "find_thresholds", "is_scale_threshold"]

QUANTITIES = ("monthly active users", "daily active users", "weekly active users", "users", "devices",
              "employees", "revenue", "funding", "parameters", "compute")
PHRASINGS = ("licence_needed_above", "exempt_below", "limit", "condition")
COMPARISONS = (">", ">=", "<", "<=")
MONEY_QUANTITIES = ("revenue", "funding")
USER_QUANTITIES = ("monthly active users", "daily active users", "weekly active users", "users")
_QUANTITY_PERIODS = {"monthly active users": "month", "daily active users": "day", "weekly active users": "week"}
# Stored features of earlier versions: {"value", "unit", "text"} with the unit as the old pattern wrote it.
_LEGACY_UNITS = {"active users": "users"}


@dataclass(frozen=True)
class Threshold:
    """One threshold a clause states.

    `comparison` is what the words say of the amount (">" for "greater than", "<=" for "no more than").
    `period` is the period the clause states (None when it states none; revenue is then annual).
    `value` is the amount as stated in words when words and figures disagree (words prevail over figures,
    as contracts are read); `other_value` is then the other statement of it and `consistent` is False.
    Thresholds read from stored features of an earlier version have no `comparison` and no `phrasing`.
    """

    quantity: str
    value: float
    comparison: str | None
    phrasing: str | None
    currency: str | None = None
    period: str | None = None
    consistent: bool = True
    other_value: float | None = None
    text: str = ""

    def to_feature(self) -> dict[str, Any]:
        """Plain JSON-able dict; keeps the earlier keys `value`, `unit` (= quantity) and `text`."""
        return {**asdict(self), "unit": self.quantity}

    @classmethod
    def from_feature(cls, feature: dict[str, Any]) -> Threshold:
        """From `to_feature`'s dict, or from an earlier version's {"value", "unit", "text"}."""
        if "quantity" not in feature:
            unit = str(feature.get("unit", ""))
            return cls(_LEGACY_UNITS.get(unit, unit), float(feature["value"]), None, None,
                       text=str(feature.get("text", "")))
        other = feature.get("other_value")
        return cls(str(feature["quantity"]), float(feature["value"]), feature.get("comparison"),
                   feature.get("phrasing"), feature.get("currency"), feature.get("period"),
                   bool(feature.get("consistent", True)), None if other is None else float(other),
                   str(feature.get("text", "")))




# ----------------------------------------------------------------------------------------- quantities

_COUNT_UNITS = (
    ("monthly active users", r"monthly\s+(?:active\s+)?(?:end\s+|unique\s+)?users?\b|maus?\b"
                             r"|(?:active\s+)?users?\s+(?:per|each|a|every|in any)\s+(?:calendar\s+)?month\b"
                             r"|月活跃用户|月活用户|月活"),
    ("daily active users", r"daily\s+(?:active\s+)?(?:end\s+|unique\s+)?users?\b|daus?\b"
                           r"|(?:active\s+)?users?\s+(?:per|each|a|every)\s+day\b|日活跃用户|日活用户|日活"),
    ("weekly active users", r"weekly\s+(?:active\s+)?users?\b|waus?\b|周活跃用户"),
    ("users", r"(?:(?:active|registered|end|unique|total|individual)\s+)*users?\b|subscribers?\b|用户"),
    ("devices", r"(?:(?:mobile|connected|end|edge|personal|physical|separate|different)\s+)?devices?\b|设备"),
    ("employees", r"(?:(?:full[- ]time|total)\s+)?(?:employees|staff|ftes?|personnel)\b|员工|雇员"),
    ("parameters", r"(?:model\s+)?param(?:eter)?s?\b|参数"),
    ("compute", r"(?:training\s+)?(?:flops?|floating[- ]point operations)\b"),
)
_MONEY_UNITS = (
    ("revenue", r"(?:(?:annual|yearly|monthly|quarterly|gross|net|total|global|consolidated|worldwide|aggregate)\s+)*"
                r"(?:revenues?|turnover|sales)\b|营业收入|营收|收入|营业额"),
    ("funding", r"(?:(?:total|outside|external|venture|equity)\s+)*(?:funding|financing|capital raised)\b|融资"),
)
# What may follow an amount right after it: a unit, with a comparison tail or a classifier between.
_UNIT_NAMES = [name for name, _ in _COUNT_UNITS + _MONEY_UNITS]
_UNITS = "|".join(f"(?P<u{i}>{pattern})" for i, (_, pattern) in enumerate(_COUNT_UNITS + _MONEY_UNITS))
_TAIL_WORDS = r"(?P<tail>more|greater|above|over|higher|less|fewer|below|under|lower)"
_UNIT_AFTER = re.compile(rf"\s*(?:(?:or|and)\s+{_TAIL_WORDS}\s+)?(?:(?:in|of)\s+)?[名个位台家]?(?:{_UNITS})")
_UNIT_BEFORE = re.compile(rf"{_UNITS}|(?P<raised>\braised?\b)")
# The words between a quantity and its amount that make the amount something else (a liability cap, a fee).
_NOT_THE_QUANTITY = re.compile(r"liab|damages|\bpaid\b|\bfees?\b|\bclaims?\b|\bprice\b|\bcost")
# A bare amount followed by a word names what that word counts ("12 months", "50 claimants").
_FREE_AFTER = re.compile(r"\s*(?:$|[,;:.)(]|(?:or|and|in|for|per|during|within|at|on|as|of|then|you|your|the|"
                         r"which|that|is|are|was|were|before|after|by|must|shall|will|may|measured)\b|[的时，])")

# ----------------------------------------------------------------------------------------- comparisons

_COMPARISON_BEFORE = (
    ("<=", r"(?:do(?:es)?|did|shall|will|may|must|would)\s+not\s+(?:exceed|surpass|go\s+(?:over|above))|"
           r"(?:doesn't|don't|didn't|won't)\s+exceed|not\s+(?:to\s+)?exceed(?:ing)?|n[ot]\s+more\s+than|"
           r"n[ot]\s+greater\s+than|not\s+in\s+excess\s+of|up\s+to(?:\s+(?:a\s+)?maximum\s+of)?|at\s+most|"
           r"(?:a\s+)?maximum\s+(?:of\s+)?|limited\s+to|less\s+than\s+or\s+equal\s+to|"
           r"不超过|不多于|不高于|未超过|至多|最多"),
    (">=", r"at\s+least|no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|(?:a\s+)?minimum\s+(?:of\s+)?|"
           r"greater\s+than\s+or\s+equal\s+to|(?:equal\s+to\s+or\s+)?(?:greater|more)\s+than\s+or\s+equal\s+to|"
           r"reach(?:es|ed|ing)?|达到|不少于|不低于|不小于|至少"),
    (">", r"greater\s+than|more\s+than|larger\s+than|higher\s+than|in\s+excess\s+of|exceed(?:s|ed|ing)?|"
          r"surpass(?:es|ed|ing)?|above|over|beyond|超过|超出|多于|大于|高于|逾"),
    ("<", r"less\s+than|fewer\s+than|lower\s+than|smaller\s+than|under|below|少于|低于|小于|不足|不到|未达到|未满"),
)
_COMPARISON_END = re.compile(
    "(?:" + "|".join(f"(?P<c{i}>(?<![a-z])(?:{p}))" for i, (_, p) in enumerate(_COMPARISON_BEFORE))
    + r")\s*(?:that\s+of\s+|of\s+|the\s+(?:sum|amount)\s+of\s+|approximately\s+|about\s+)?$")
_TAIL = {"more": ">=", "greater": ">=", "above": ">=", "over": ">=", "higher": ">=",
         "less": "<=", "fewer": "<=", "below": "<=", "under": "<=", "lower": "<="}
_ENGLISH_TAIL = re.compile(rf"\s*(?:or|and)\s+{_TAIL_WORDS}\b")
_CHINESE_TAIL = re.compile(r"[名个位台家]?(?:[\u4e00-\u9fff]{0,8}?)(?P<tail>及以上|以上|及以下|以下|以内)")

# ----------------------------------------------------------------------------------------- phrasing cues

_LICENCE_CUE = re.compile(
    r"\b(?:request|obtain|apply\s+for|purchase|acquire|need|require|seek|enter\s+into)\w*\s+(?:from\s+\w+\s+)?"
    r"(?:a|an|any|the|our|such)?\s*(?:separate\s+|additional\s+|commercial\s+|enterprise\s+|paid\s+|written\s+)*"
    r"(?:licen[cs]e|permission|authori[sz]ation|agreement|subscription)|"
    r"\bnot\s+(?:be\s+)?(?:authori[sz]ed|licensed|permitted|entitled|allowed)\b|\bcannot\s+exercise|"
    r"\bnot\s+exercise\b|\brights?\b.{0,60}\b(?:terminate|are\s+not\s+granted|do\s+not\s+apply|cease)|"
    r"\bcontact\s+\w+(?:\s+\w+)?\s+(?:to|for)\b|\b(?:commercial|enterprise)\s+licen[cs]e\b|\bmust\s+pay\b|"
    r"(?:须|需|需要|应当?|必须)(?:向.{0,12})?(?:申请|获得|取得)|不得(?:行使|使用)|申请.{0,8}(?:许可|授权)")
_EXEMPT_CUE = re.compile(
    r"\b(?:does|do|shall|will)\s+not\s+apply\b|\bno\s+(?:separate\s+|commercial\s+|additional\s+)?licen[cs]e\s+is\s+"
    r"(?:required|needed)|\bis\s+not\s+required\b|\bare\s+not\s+required\b|\bneed\s+not\b|"
    r"\bexempt\w*|\bfree\s+(?:of\s+charge|for|to\s+use)\b|\bfor\s+free\b|\bat\s+no\s+(?:cost|charge)\b|"
    r"\bno\s+(?:licen[cs]e\s+)?fees?\b|\bwithout\s+(?:a|an|any|the)?\s*"
    r"(?:separate\s+|commercial\s+|paid\s+|additional\s+)*(?:licen[cs]e|fee|charge|payment)|不适用|免费|无需|豁免|不需要")
_PERMISSION_CUE = re.compile(
    r"\b(?:you|licensees?|users?|entities|organi[sz]ations|companies|individuals|businesses|they)\s+"
    r"(?:may|can|are\s+(?:free|permitted|allowed|entitled)\s+to)\b|\bpermit\w*|\ballowed\b|\beligible\b|"
    r"\b(?:may|can)\s+(?:freely\s+)?(?:use|access|deploy|distribute|install|run|exercise|operate)\b|"
    r"\bqualif(?:y|ies)\b|可以")
_CONDITIONAL = re.compile(r"\b(?:if|where|when|provided|as\s+long\s+as|so\s+long\s+as|unless|whose|in\s+case)\b"
                          r"|如果|若|凡")
# Strings one of which a clause with a threshold contains: a quantity, and a comparison (cheap pre-checks).
_QUANTITY_HINTS = ("user", "revenue", "turnover", "sales", "device", "employee", "staff", "personnel", "fte",
                   "funding", "financ", "raise", "param", "flop", "floating", "mau", "dau", "用户", "月活", "日活", "设备",
                   "员工", "雇员", "收入", "营收", "营业额", "融资", "参数")
_COMPARISON_HINTS = ("than", "exceed", "excess", "least", "up to", "under", "below", "above", "over", "beyond",
                     "maximum", "minimum", "limited to", "at most", "reach", "surpass", "or more", "or greater",
                     "or higher", "or less", "or fewer", "or lower", "超", "多于", "大于", "高于", "逾", "达到", "不少于",
                     "不低于", "不小于", "至少", "少于", "低于", "小于", "不足", "不到", "未满", "至多", "最多", "以上",
                     "以下", "以内")
# "users in Australia are under 18": an age, not a count of users.
_AGE = re.compile(r"\bage\b|\baged\b|\bages\b|\badults?\b|\bminors?\b|years? old|\bolder\b|\byounger\b|\d\+|岁|未成年")
_CLAUSE_PART = re.compile(r"[;.!?](?=\s|$)|[。；]")



def find_thresholds(text: str, lead: str = "") -> list[Threshold]:
    """Every threshold the clause states, in text order (an amount at most once).

    `lead` is the lead-in of the list the clause is an item of ("You must obtain a licence if:"): it says
    what follows from the threshold, never holds one.
    """
    return list(_find_thresholds(text, lead))


@text_memo
def _find_thresholds(text: str, lead: str) -> tuple[Threshold, ...]:
    lowered = text.lower()
    if not (any(hint in lowered for hint in _QUANTITY_HINTS) and any(hint in lowered for hint in _COMPARISON_HINTS)):
        return ()
    prepared, prepared_lead = normalise_text(lowered), normalise_text(lead)
    thresholds: list[Threshold] = []
    part_starts = [0] + [m.end() for m in _CLAUSE_PART.finditer(prepared)]
    for amount in find_amounts(prepared):
        part_start = part_starts[bisect.bisect_right(part_starts, amount.start) - 1]
        threshold = _threshold_at(prepared, amount, part_start, prepared_lead)
        if threshold and threshold not in thresholds:
            thresholds.append(threshold)
    return tuple(thresholds)


def _threshold_at(prepared: str, amount: Amount, part_start: int, lead: str) -> Threshold | None:
    before = prepared[part_start:amount.start]
    comparison, comparison_start = _comparison_before(before)
    unit = _UNIT_AFTER.match(prepared, amount.end)
    if unit:
        quantity = _UNIT_NAMES[int(next(k for k, v in unit.groupdict().items() if v and k.startswith("u"))[1:])]
        if unit["tail"] and comparison is None:
            comparison, comparison_start = _TAIL[unit["tail"]], len(before)
        span = (amount.start, unit.end())
        words = prepared[amount.start:unit.end()]
    else:
        found = _quantity_before(before[:comparison_start] if comparison else before)
        if found is None or not _FREE_AFTER.match(prepared, amount.end):
            return None
        quantity, at, to = found
        span = (part_start + at, amount.end)
        words = f"{prepared[amount.start:amount.end]} {prepared[part_start + at:part_start + to]}"
    if comparison is None:
        comparison = _comparison_after(prepared, span[1]) or _comparison_after(prepared, amount.end)
        if comparison is None:
            return None
    if amount.currency and quantity not in MONEY_QUANTITIES:
        return None  # money that is not revenue or funding
    if _trivial(comparison, amount.value) or _an_age(quantity, amount.value, prepared):
        return None
    window = prepared[max(part_start, span[0] - 40):span[1] + 60]
    period = _QUANTITY_PERIODS.get(quantity) or (_stated_period(window) if quantity in MONEY_QUANTITIES else None)
    phrasing = _phrasing(f"{prepared} {lead}", f"{lead} {before}", comparison)
    return Threshold(quantity, amount.value, comparison, phrasing, amount.currency, period, amount.consistent,
                     amount.other_value, words)


def _comparison_before(before: str) -> tuple[str | None, int]:
    match = _COMPARISON_END.search(before[-80:])
    if not match:
        return None, len(before)
    index = next(int(k[1:]) for k, v in match.groupdict().items() if v)
    return _COMPARISON_BEFORE[index][0], len(before) - len(before[-80:]) + match.start()


def _comparison_after(prepared: str, at: int) -> str | None:
    """ "$1 million or more", "1亿以上": a comparison written after the amount."""
    tail = _ENGLISH_TAIL.match(prepared, at)
    if tail:
        return _TAIL[tail["tail"]]
    tail = _CHINESE_TAIL.match(prepared, at)
    return (">=" if "上" in tail["tail"] else "<=") if tail else None


def _quantity_before(before: str) -> tuple[str, int, int] | None:
    """The last quantity named before the comparison, when nothing between them makes the amount a fee or a cap."""
    window_start = max(0, len(before) - 140)
    last = None
    for match in _UNIT_BEFORE.finditer(before, window_start):
        last = match
    if last is None:
        return None
    if _NOT_THE_QUANTITY.search(before[last.end():]):
        return None
    if last["raised"]:
        return "funding", last.start(), last.end()
    name = _UNIT_NAMES[int(next(k for k, v in last.groupdict().items() if v and k.startswith("u"))[1:])]
    return name, last.start(), last.end()


def _an_age(quantity: str, value: float, prepared: str) -> bool:
    return quantity in USER_QUANTITIES and value < 130 and bool(_AGE.search(prepared))


def _trivial(comparison: str, value: float) -> bool:
    """"One or more devices", "at least one": a lower bound that leaves out no one is no threshold."""
    return (comparison == ">=" and value <= 1) or (comparison == ">" and value < 1)


_LAST = r"\b(?:preceding|previous|prior|last|any)\s+"
_PERIODS = (("month", rf"\bmonthly\b|\b(?:per|each|a)\s+month\b|{_LAST}(?:calendar\s+)?month\b|月收入|月营收|每月"),
            ("quarter", rf"\bquarterly\b|\bper\s+quarter\b|{_LAST}(?:fiscal\s+)?quarter\b"),
            ("year", rf"\bannual(?:ly)?\b|\byearly\b|\bper\s+(?:year|annum)\b|\b(?:each|a)\s+year\b|"
                     rf"{_LAST}(?:fiscal\s+|calendar\s+|financial\s+)?year\b|\b(?:fiscal|calendar|financial)\s+year\b|"
                     r"年收入|年营收|年营业额|每年|年度"))
_PERIOD = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PERIODS))


def _stated_period(window: str) -> str | None:
    match = _PERIOD.search(window)
    return next(name for name, value in match.groupdict().items() if value) if match else None


def _phrasing(prepared: str, before: str, comparison: str) -> str:
    """Which side of the amount the rule binds, from the clause's words and its lead-in (see `compare_thresholds`)."""
    licence, exempt = bool(_LICENCE_CUE.search(prepared)), bool(_EXEMPT_CUE.search(prepared))
    conditional = bool(_CONDITIONAL.search(before))
    if comparison in (">", ">="):
        if licence:
            return "licence_needed_above"
        return "exempt_below" if exempt else "condition"
    if exempt or (conditional and _PERMISSION_CUE.search(prepared)):
        return "exempt_below"
    if licence:
        return "licence_needed_above"
    return "condition" if conditional else "limit"


def is_scale_threshold(text: str, lead: str = "") -> bool:
    """Whether the clause states a threshold above which another licence is needed, or below which an exemption
    applies (the `scale_threshold` category, in whatever shape the threshold is written)."""
    return any(t.phrasing in ("licence_needed_above", "exempt_below") for t in find_thresholds(text, lead))

