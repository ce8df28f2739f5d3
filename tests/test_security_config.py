"""Hostile configuration files and paths (issue 18, items 7, 9 and 10): every one is a one-line error, never a
traceback, never a long wait, and what validation accepts the database stores."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from monitor.alerts.config import parse_alerts_config
from monitor.alerts.outbox import backoff
from monitor.errors import ConfigError
from monitor.sources import load_sources

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + level)}: &{chr(98 + level)} [" + ",".join([f"*{chr(97 + level)}"] * 9) + "]"
       for level in range(8)]) + "\n"
DEEP = "x: " + "[" * 5000 + "]" * 5000 + "\n"
GOOD_SOURCE = {"id": "ok", "provider": "Example", "title": "Terms", "url": "https://example.org/terms"}


def write_sources(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def sources_file(tmp_path: Path, **fields: object) -> Path:
    return write_sources(tmp_path, yaml.safe_dump({"sources": [{**GOOD_SOURCE, **fields}]}))


def alerts(text: str):  # type: ignore[no-untyped-def]
    return parse_alerts_config(Path("clausewatch.yaml"), text, {})


# ---------------------------------------------------------------- item 7: one guarded YAML loader

def test_billion_laughs_clausewatch_yaml_is_refused_naming_the_line() -> None:
    with pytest.raises(ConfigError) as error:
        alerts(BILLION_LAUGHS)
    assert "aliases (*name) expand to more than" in str(error.value) and "line " in str(error.value)


def test_billion_laughs_sources_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(write_sources(tmp_path, BILLION_LAUGHS))
    assert "aliases (*name) expand to more than" in str(error.value)


def test_aliases_cannot_nest_deeper_than_the_limit(tmp_path: Path) -> None:
    deep = "[" * 40 + "1" + "]" * 40
    text = f"a: &a {deep}\nb: &b [{', '.join(['*a'] * 1)}]\nc: {'[' * 30}*a{']' * 30}\n"
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        alerts(text)


@pytest.mark.parametrize("load", ["sources", "alerts"])
def test_deeply_nested_yaml_is_one_clear_error(tmp_path: Path, load: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(write_sources(tmp_path, DEEP)) if load == "sources" else alerts(DEEP)
    assert "nested more than" in str(error.value) and "line 1" in str(error.value)


def test_a_few_aliases_and_line_numbers_still_work(tmp_path: Path) -> None:
    shared = ["main"]  # yaml.safe_dump writes a list used twice as an anchor and an alias
    sources = [{**GOOD_SOURCE, "select": shared}, {**GOOD_SOURCE, "id": "ok2", "select": shared}]
    text = yaml.safe_dump({"sources": sources})
    assert "*id001" in text
    assert [source.select for source in load_sources(write_sources(tmp_path, text))] == [("main",), ("main",)]
    bad = "sources:\n  - id: ok\n    provider: Example\n    title: Terms\n    url: ftp://example.org\n"
    with pytest.raises(ConfigError, match=r"sources.yaml:2: source 'ok': field 'url'"):
        load_sources(write_sources(tmp_path, bad))


# ---------------------------------------------------------------- item 9: validation = column limits

@pytest.mark.parametrize("field,value,expected", [
    ("provider", "P" * 201, "at most 200 characters"),
    ("title", "T" * 301, "at most 300 characters"),
    ("title", "Terms\x00of use", "control character"),
    ("provider", "Ex\x1bample", "control character"),
    ("expect", "Terms\x00", "control character"),
    ("url", "https://example.org/" + "a" * 5000, "at most 4000 characters"),
])
def test_sources_check_refuses_what_the_columns_cannot_hold(tmp_path: Path, field: str, value: str,
                                                           expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(sources_file(tmp_path, **{field: value}))
    assert f"field {field!r}" in str(error.value) and expected in str(error.value)


def test_limits_are_the_columns_sizes() -> None:
    from monitor.sources import Source
    from monitor.store.models import SourceRow

    for name in ("id", "provider", "title"):
        column = SourceRow.__table__.columns[name].type.length
        limit = next(rule.max_length for rule in Source.model_fields[name].metadata if hasattr(rule, "max_length"))
        assert limit == column, name


def test_longest_valid_provider_and_title_are_stored(tmp_path: Path, db_url: str) -> None:
    # What `sources --check` accepts, `run` stores on both backends (PostgreSQL enforces the lengths).
    from monitor.pipeline import Recorder
    from monitor.store import connect, init_database

    sources = load_sources(sources_file(tmp_path, provider="P" * 200, title="T" * 300))
    engine = connect(db_url)
    init_database(engine)
    Recorder(engine).sync_sources(sources)


def test_ambiguous_url_is_refused_at_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(sources_file(tmp_path, url="http://127.0.0.1:18080\\@8.8.8.8/ok"))
    assert "ambiguous URL" in str(error.value)


# ---------------------------------------------------------------- item 10: one line, never a traceback

def test_huge_schedule_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(sources_file(tmp_path, schedule="99999999999999999999d"))
    assert "field 'schedule'" in str(error.value) and "longer than" in str(error.value)


def test_huge_schedule_through_the_cli_is_one_line(tmp_path: Path) -> None:
    sources_file(tmp_path, schedule="99999999999999999999d")
    done = subprocess.run([sys.executable, "-m", "monitor", "sources", "--check"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "longer than" in done.stderr


@pytest.mark.parametrize("text,expected", [
    ("outbox:\n  backoff: 99999999999999999999d\n", "field 'backoff'"),
    ("outbox:\n  lease: 99999999999999999999\n", "field 'lease'"),
    ("channels:\n  hook: {kind: webhook, url: 'https://x.example', timeout: .inf}\n", "field 'timeout'"),
    ("channels:\n  hook: {kind: webhook, url: 'https://x.example', timeout: .nan}\n", "field 'timeout'"),
    ("channels:\n  mail: {kind: email, host: h, from: a@b.c, to: d@e.f, timeout: .inf}\n", "field 'timeout'"),
])
def test_alert_config_overflows_and_infinities_are_refused(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        alerts(text)
    assert expected in str(error.value)


def test_backoff_after_many_failures_is_capped_not_an_overflow() -> None:
    config = alerts("outbox:\n  max_attempts: 100000\n  backoff: 1d\n  backoff_max: 30d\n")
    assert backoff(config, 99_999).days == 30


def test_snapshot_of_a_huge_version_number_is_404(tmp_path: Path) -> None:
    from monitor.store import connect, init_database
    from monitor.web import create_app

    engine = connect(f"sqlite:///{tmp_path / 'site.db'}")
    init_database(engine)
    with TestClient(create_app(engine)) as client:
        for path in ("/sources/x/versions/99999999999999999999/snapshot", "/sources/x/versions/99999999999999999999",
                     "/api/sources/x/versions/99999999999999999999"):
            assert client.get(path).status_code == 404, path
