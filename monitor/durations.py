"""Durations, one grammar everywhere (sources.yaml, clausewatch.yaml, command-line options): text in, a timedelta
out. A number with a unit, `500ms`, `30s`, `5m`, `12h`, `1d`, `2w`; a bare number is seconds. Where a bare
number would be dangerous (`prune`'s age) the caller asks for a unit (`require_unit`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

MAX_DURATION = dt.timedelta(days=36600)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
EXAMPLES = "500ms, 30s, 5m, 12h, 1d or 2w"


def match_duration(value: Any, *, require_unit: bool = False) -> dt.timedelta | None:
    """The duration the text says, or None when it is not one; ValueError past MAX_DURATION."""
    match = _DURATION.match(str(value).strip())
    if not match or (require_unit and match.group(2) is None):
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():  # also keeps timedelta (and dates after it) from overflowing
        raise ValueError(f"{str(value).strip()!r} is longer than {MAX_DURATION.days} days")
    return dt.timedelta(seconds=seconds)


def parse_duration(value: Any, *, require_unit: bool = False, positive: bool = False) -> dt.timedelta:
    """The duration the text says; ValueError naming the grammar when it is not one."""
    duration = match_duration(value, require_unit=require_unit)
    if duration is None:
        unit = "a number with a unit" if require_unit else "a number of seconds, or a number with a unit"
        raise ValueError(f"{str(value).strip()!r} is not a duration ({unit}: {EXAMPLES})")
    if positive and duration <= dt.timedelta(0):
        raise ValueError(f"{str(value).strip()!r} is not a duration longer than zero")
    return duration
