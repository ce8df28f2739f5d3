"""One duration grammar for sources.yaml, clausewatch.yaml and the command line: a bare number is seconds
everywhere; prune, where a bare number would delete nearly everything, asks for a unit."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from monitor.alerts.config import OutboxSettings
from monitor.cli import cli
from monitor.durations import parse_duration
from monitor.sources import parse_interval
from monitor.store.prune import parse_age

CASES = [("500ms", 0.5), ("30s", 30), ("5m", 300), ("12h", 43200), ("1d", 86400), ("2w", 1209600), ("90", 90),
         ("1.5h", 5400)]


@pytest.mark.parametrize(("text", "seconds"), CASES)
def test_every_reader_reads_a_duration_the_same(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert parse_interval(text).total_seconds() == seconds  # a schedule
    assert OutboxSettings(backoff=text).backoff.total_seconds() == seconds  # clausewatch.yaml


def test_prune_asks_for_a_unit_instead_of_reading_a_bare_number_as_days(tmp_path) -> None:
    assert parse_age("90d") == dt.timedelta(days=90)
    with pytest.raises(ValueError, match="a number with a unit"):
        parse_age("90")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/x.db", "prune", "--attempts-older-than", "90"])
    assert result.exit_code == 2 and "with a unit" in result.output


@pytest.mark.parametrize("text", ["soon", "5 minutes", "-5m", "", "1y"])
def test_what_is_not_a_duration_is_refused_everywhere(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
    assert parse_interval(text) is None


def test_durations_past_the_limit_are_refused() -> None:
    with pytest.raises(ValueError, match="longer than 36600 days"):
        parse_duration("99999999999999999999d")
