"""Amounts: a text in, the amounts it states out (figures, English words, Chinese numerals, a currency), an amount
restated in brackets ("seven hundred million (700,000,000)") read as one, with whether both statements agree."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["Amount", "find_amounts", "normalise_text", "read_amount"]

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
class Amount:
    """One amount at text[start:end]; `other_value` is its restatement when words and figures disagree."""

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


def _raw_amounts(text: str) -> list[Amount]:
    """Every amount in figures, in English words and in Chinese numerals, in text order, without overlaps."""
    found: list[Amount] = []
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
            found.append(Amount(start, end, read(match), _currency(raw_currency)))
            taken[start:end] = b"\x01" * (end - start)
    return sorted(found, key=lambda a: a.start)


def find_amounts(text: str) -> list[Amount]:
    """Amounts, with an amount restated in brackets ("seven hundred million (700,000,000)") read as one."""
    raw = _raw_amounts(text)
    merged: list[Amount] = []
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
            merged.append(Amount(amount.start, close, first.value, currency, other))
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
    prepared = normalise_text(text).strip(" .,;:")
    amounts = find_amounts(prepared)
    if len(amounts) != 1 or not amounts[0].consistent or (amounts[0].start, amounts[0].end) != (0, len(prepared)):
        return None
    return amounts[0].value, amounts[0].currency


def normalise_text(text: str) -> str:
    """Lower case, typographic punctuation and full-width forms as ASCII, emphasis marks dropped, spaces collapsed."""
    text = text.lower().translate(_TRANSLATE)
    text = re.sub(r"\*\*|__|\\(?=[.\-()\[\]*])", "", text)
    return re.sub(r"\s+", " ", text).strip()

