"""Thresholds: a clause's text in, the thresholds it states out (quantity, amount, comparison, phrasing); and
two versions' thresholds in, the signed signals of their change out.

A threshold is an amount of a quantity of a small closed vocabulary (`QUANTITIES`) with a comparison
("greater than", "fewer than", "no more than", 超过 ...) and a phrasing: a licence needed above it
(`licence_needed_above`), an exemption below it (`exempt_below`), a limit (`limit`), or a bare condition
whose consequence the clause does not say (`condition`). Amounts are read from figures ("700 million",
"US$1,000,000", "$1M", "1亿") and words ("seven hundred million", 一亿); an amount stated twice, in words and
in figures, is `consistent` only when both agree. Money counts only as revenue or funding: a liability cap
("shall not exceed $100") names no quantity and is no threshold.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

__all__ = ["PHRASINGS", "QUANTITIES", "Threshold", "compare_thresholds", "find_thresholds", "is_scale_threshold",
           "read_amount"]

QUANTITIES = ("monthly active users", "daily active users", "weekly active users", "users", "devices",
              "employees", "revenue", "funding", "parameters", "compute")
PHRASINGS = ("licence_needed_above", "exempt_below", "limit", "condition")
COMPARISONS = (">", ">=", "<", "<=")
MONEY_QUANTITIES = ("revenue", "funding")
USER_QUANTITIES = ("monthly active users", "daily active users", "weekly active users", "users")
_QUANTITY_PERIODS = {"monthly active users": "month", "daily active users": "day", "weekly active users": "week"}
# Revenue is annual unless the clause says otherwise.
_DEFAULT_PERIODS = {"revenue": "year"}
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


# ----------------------------------------------------------------------------------------- reading amounts

_TRANSLATE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " ",
                            "（": "(", "）": ")", "，": ",", "＄": "$", "；": ";", "。": ".",
                            **{chr(0xFF10 + d): str(d) for d in range(10)}})
_CURRENCY_PREFIX = r"(?P<cur>(?<![a-z])u\.?s\.?\s?\$|\busd\s?\$?|\beur\s?€?|\bgbp\s?£?|\b(?:cny|rmb)\s?¥?|[$€£¥])"
_CURRENCY_SUFFIX = (r"(?P<cur2>\busd\b|\beur\b|\bgbp\b|\bcny\b|\brmb\b|(?:u\.s\.\s|us\s)?dollars?\b|euros?\b|"
                    r"pounds?(?: sterling)?\b|yuan\b|yen\b|\bjpy\b|元人民币|人民币元|人民币|美元|欧元|元)")
_FIGURE = re.compile(
    r"(?<![a-z0-9.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?\^\s?(?P<exp>\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|mn|bn)\b|(?P<letter>[kmb])\b|\s?(?P<cn>[千万亿]+))?"
    rf"(?:\s?{_CURRENCY_SUFFIX})?")
# Read backwards from a figure: the currency written before it ("US$", "USD ", "€").
_CURRENCY_BEFORE = re.compile(rf"{_CURRENCY_PREFIX}\s?$")
_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_SMALL.update({w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "mn": 1e6, "bn": 1e9,
           "k": 1e3, "m": 1e6, "b": 1e9}
_NUMBER_WORD = "(?:" + "|".join(sorted([*_SMALL, "hundred", "thousand", "million", "billion", "trillion"],
                                       key=len, reverse=True)) + ")"
_WORDS = re.compile(rf"(?:\ba\s+(?=(?:hundred|thousand|million|billion)\b))?\b{_NUMBER_WORD}"
                    rf"(?:(?:\s+and\s+|\s+|-){_NUMBER_WORD})*\b(?:\s?{_CURRENCY_SUFFIX})?")
_CHINESE = re.compile(r"[零〇一二两三四五六七八九十百千万亿]*[一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*")
_CHINESE_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
# Currency marks as written, spaces and dots removed, by their first characters. "¥" is read as the yuan
# (the licences that use it are Chinese); the yen is written "jpy" or "yen".
_CURRENCIES = (("us$", "USD"), ("usd", "USD"), ("$", "USD"), ("dollar", "USD"), ("美元", "USD"), ("eur", "EUR"),
               ("€", "EUR"), ("欧元", "EUR"), ("gbp", "GBP"), ("£", "GBP"), ("pound", "GBP"), ("cny", "CNY"),
               ("rmb", "CNY"), ("¥", "CNY"), ("yuan", "CNY"), ("元", "CNY"), ("人民币", "CNY"), ("jpy", "JPY"),
               ("yen", "JPY"))
# Words that may stand between an amount and its restatement in brackets ("five U.S. dollars (US$5)").
_BETWEEN_RESTATEMENTS = re.compile(r"\s*(?:(?:u\.s\.\s|us\s)?dollars?\s*|euros?\s*|pounds?\s*|yuan\s*)?\(\s*")


@dataclass(frozen=True)
class _Amount:
    start: int
    end: int
    value: float
    currency: str | None
    other_value: float | None = None

    @property
    def consistent(self) -> bool:
        return self.other_value is None or math.isclose(self.value, self.other_value)


def _currency(raw: str | None) -> str | None:
    key = re.sub(r"[\s.]", "", (raw or "").lower())
    return next((code for prefix, code in _CURRENCIES if key.startswith(prefix)), None) if key else None


def _figure_value(match: re.Match[str]) -> float:
    value = float(match["num"].replace(",", ""))
    if match["exp"]:
        value **= float(match["exp"])
    scale = match["scale"] or match["letter"]
    value *= _SCALES.get(scale, 1) if scale else 1
    for char in match["cn"] or "":
        value *= {"千": 1e3, "万": 1e4, "亿": 1e8}[char]
    return value


def _words_value(words: str) -> float:
    total, current = 0.0, 0.0
    for word in re.findall(r"[a-z]+", words):
        if word in _SMALL:
            current += _SMALL[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _SCALES:
            total += (current or 1) * _SCALES[word]
            current = 0
    return total + current


def _chinese_value(text: str) -> float:
    for mark, scale in (("亿", 1e8), ("万", 1e4)):
        if mark in text:
            high, low = text.split(mark, 1)
            return (_chinese_value(high) if high else 1) * scale + (_chinese_value(low) if low else 0)
    total, digit = 0.0, 0
    for char in text:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char in _CHINESE_UNITS:
            total += (digit or 1) * _CHINESE_UNITS[char]
            digit = 0
    return total + digit


def _raw_amounts(text: str) -> list[_Amount]:
    """Every amount in figures, in English words and in Chinese numerals, in text order, without overlaps."""
    found: list[_Amount] = []
    taken = bytearray(len(text) + 1)
    for pattern, read in ((_FIGURE, _figure_value), (_WORDS, lambda m: _words_value(m.group(0))),
                          (_CHINESE, lambda m: _chinese_value(m.group(0)))):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(taken[start:end]):
                continue
            raw_currency = match.groupdict().get("cur2")
            if pattern is _FIGURE:
                before = _CURRENCY_BEFORE.search(text, max(0, start - 8), start)
                if before:
                    start, raw_currency = before.start(), before["cur"]
            found.append(_Amount(start, end, read(match), _currency(raw_currency)))
            taken[start:end] = b"\x01" * (end - start)
    return sorted(found, key=lambda a: a.start)


def _amounts(text: str) -> list[_Amount]:
    """Amounts, with an amount restated in brackets ("seven hundred million (700,000,000)") read as one."""
    raw = _raw_amounts(text)
    merged: list[_Amount] = []
    index = 0
    while index < len(raw):
        amount = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else None
        if following and _BETWEEN_RESTATEMENTS.fullmatch(text, amount.end, following.start) \
                and re.match(r"\s*\)", text[following.end:]):
            close = following.end + text[following.end:].index(")") + 1
            words_first = bool(_WORDS.match(text, amount.start)) and not _FIGURE.match(text, amount.start)
            first, second = (amount, following) if words_first or not _WORDS.match(text, following.start) \
                else (following, amount)
            between = text[amount.end:following.start].strip(" (")
            currency = amount.currency or following.currency or _currency(between)
            other = None if math.isclose(first.value, second.value) else second.value
            merged.append(_Amount(amount.start, close, first.value, currency, other))
            index += 2
            continue
        merged.append(amount)
        index += 1
    return merged


def read_amount(text: str) -> tuple[float, str | None] | None:
    """(value, currency) of a text that is one amount and nothing else ("700 million", "seven hundred million
    (700,000,000)", "US$5"); None for anything else, and for words and figures that disagree.

    An edit from one way of writing an amount to another with the same value restates it (a cosmetic edit).
    """
    prepared = _prepare(text).strip(" .,;:")
    amounts = _amounts(prepared)
    if len(amounts) != 1 or not amounts[0].consistent or (amounts[0].start, amounts[0].end) != (0, len(prepared)):
        return None
    return amounts[0].value, amounts[0].currency


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
_WORDS_OF = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most"}

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


def _prepare(text: str) -> str:
    text = text.lower().translate(_TRANSLATE)
    text = re.sub(r"\*\*|__|\\(?=[.\-()\[\]*])", "", text)
    return re.sub(r"\s+", " ", text).strip()


def find_thresholds(text: str, lead: str = "") -> list[Threshold]:
    """Every threshold the clause states, in text order (an amount at most once).

    `lead` is the lead-in of the list the clause is an item of ("You must obtain a licence if:"): it says
    what follows from the threshold, never holds one.
    """
    return list(_find_thresholds(text, lead))


@lru_cache(maxsize=20_000)
def _find_thresholds(text: str, lead: str) -> tuple[Threshold, ...]:
    lowered = text.lower()
    if not (any(hint in lowered for hint in _QUANTITY_HINTS) and any(hint in lowered for hint in _COMPARISON_HINTS)):
        return ()
    prepared, prepared_lead = _prepare(lowered), _prepare(lead)
    thresholds: list[Threshold] = []
    part_starts = [0] + [m.end() for m in _CLAUSE_PART.finditer(prepared)]
    for amount in _amounts(prepared):
        part_start = part_starts[bisect.bisect_right(part_starts, amount.start) - 1]
        threshold = _threshold_at(prepared, amount, part_start, prepared_lead)
        if threshold and threshold not in thresholds:
            thresholds.append(threshold)
    return tuple(thresholds)


def _threshold_at(prepared: str, amount: _Amount, part_start: int, lead: str) -> Threshold | None:
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


# ----------------------------------------------------------------------------------------- comparing versions

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
