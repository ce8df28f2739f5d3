"""Retries: a failed attempt in, the wait before the next one (Retry-After, else full-jitter backoff) or none out,
and the failure to report when there is no further attempt."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

from monitor.fetch.failure import FetchFailure
from monitor.fetch.settings import FetchSettings


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds())


def retry_wait(failure: FetchFailure, attempt: int, settings: FetchSettings) -> float | None:
    """Seconds before the next attempt, or None to give up: Retry-After if given, else full-jitter backoff."""
    if not failure.transient or attempt >= settings.retries:
        return None
    if failure.retry_after is not None:
        return failure.retry_after if failure.retry_after <= settings.max_retry_after else None
    return random.uniform(0, min(settings.backoff_max, settings.backoff_base * 2**attempt))


def final_failure(failure: FetchFailure, attempt: int, settings: FetchSettings) -> FetchFailure:
    """The failure to report, its error saying why there was no (further) retry."""
    notes = []
    if failure.retry_after is not None and failure.retry_after > settings.max_retry_after:
        notes.append(f"Retry-After {failure.retry_after:g} s is over max_retry_after ({settings.max_retry_after:g} s)")
    if attempt:
        notes.append(f"after {attempt + 1} attempts")
    if not notes:
        return failure
    # A copy: one DNS failure is shared by every source on that host, so editing it would note each
    # source's attempts on all of them ("(after 3 attempts) (after 3 attempts) ...").
    return FetchFailure(failure.outcome, f"{failure.error} ({'; '.join(notes)})", status=failure.status,
                        url=failure.url, headers=failure.headers, retry_after=failure.retry_after,
                        transient=failure.transient)
