"""Moments in, the one text form ClauseWatch prints and stores them in out: ISO 8601 in UTC with a Z, to the second."""

from __future__ import annotations

import datetime as dt
import re

from monitor.errors import UsageError


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(dt.datetime.now(dt.timezone.utc))


# Open Terms Archive names its versions by their UTC time: 2025-11-11T15-22-52Z.
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)Z$")


def parse_stamp(name: str) -> dt.datetime | None:
    """The moment of an Open Terms Archive stamp, or None when `name` is not one."""
    match = _STAMP.match(name)
    if not match:
        return None
    day, hour, minute, second = match.groups()
    return dt.datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}+00:00")


def parse_time(value: str) -> dt.datetime:
    """ISO 8601 date or time (UTC when no offset), or an Open Terms Archive stamp."""
    stamp = parse_stamp(value.strip())
    if stamp is not None:
        return stamp
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{value!r} is not a date or time (use ISO 8601, e.g. 2026-03-12 or "
                         f"2026-03-12T09:00:00Z)") from None
    if len(value.strip()) == 10:  # a bare date means the end of that day, so "as of" includes it
        moment = moment + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
