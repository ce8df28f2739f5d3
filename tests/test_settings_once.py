"""Settings are read once, by monitor/settings.py alone: no other module of `monitor/` reads the environment,
a bad value is one line naming its variable (never a traceback), and an explicit argument wins."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.errors import ConfigError
from monitor.settings import load_settings, setting_default

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
SETTINGS_MODULE = PACKAGE / "settings.py"
# What reads the environment: os.environ / os.getenv and their bytes forms, as attributes or imported names.
READERS = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(source: str) -> list[int]:
    """The lines of `source` that read the environment through the os module (however it was imported)."""
    tree = ast.parse(source)
    os_names = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names if alias.name == "os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and READERS & {a.name for a in node.names}:
            lines.append(node.lineno)
        elif (isinstance(node, ast.Attribute) and node.attr in READERS and isinstance(node.value, ast.Name)
              and node.value.id in os_names):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {str(path.relative_to(PACKAGE.parent)): lines for path in sorted(PACKAGE.rglob("*.py"))
               if path != SETTINGS_MODULE and (lines := environment_reads(path.read_text(encoding="utf-8")))}
    assert readers == {}, "read the setting from monitor.settings.load_settings() instead"
    assert environment_reads(SETTINGS_MODULE.read_text(encoding="utf-8"))  # the walk sees what it looks for


def test_the_checker_finds_every_way_of_reading_the_environment() -> None:
    assert environment_reads("import os\nos.environ.get('X')\n") == [2]
    assert environment_reads("import os as system\nsystem.getenv('X')\n") == [2]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nos.path.join('a', 'b')\nos.cpu_count()\n") == []


@pytest.mark.parametrize("variable, value", [
    ("CLAUSEWATCH_ANALYSIS_PROCESSES", "two"),
    ("CLAUSEWATCH_FETCH_RETRIES", "many"),
    ("CLAUSEWATCH_LOG_FORMAT", "xml"),
    ("CLAUSEWATCH_VERBOSE", "maybe"),
    ("CLAUSEWATCH_FETCH_USER_AGENT", "ClauseWatch \u2013 legal team"),  # no request could carry it
    ("CLAUSEWATCH_FETCH_CONTACT_URL", "https://ex\u00e4mple.org/bot"),  # named, not the agent made of it
])
def test_a_bad_value_is_one_line_naming_its_variable(variable: str, value: str) -> None:
    # `sources` uses none of these: every setting is validated before any command runs.
    done = CliRunner().invoke(cli, ["sources"], env={variable: value})
    assert done.exit_code == ConfigError.exit_code, done.output
    assert isinstance(done.exception, SystemExit)  # not an uncaught error (a traceback)
    assert done.output.startswith(f"error: {variable}: ") and repr(value) in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_the_settings_are_validated_once_per_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUSEWATCH_DB", raising=False)
    first = load_settings()
    assert load_settings() is first
    monkeypatch.setenv("CLAUSEWATCH_DB", "sqlite:///other.db")
    assert load_settings().database == "sqlite:///other.db" and load_settings().is_set("database")
    # An explicit environment is the whole environment: nothing of the process's slips in.
    assert load_settings({}).database == setting_default("database")
    assert not load_settings({}).is_set("database")


def test_fetch_variables_are_split_at_their_prefix_only() -> None:
    settings = load_settings({"CLAUSEWATCH_FETCH_PER_HOST_DELAY": "1.5", "CLAUSEWATCH_FETCH_PER_HOST": "4"})
    assert (settings.fetch.per_host_delay, settings.fetch.per_host) == (1.5, 4)
    # a mistyped fetch variable is named by `config` as unknown, and is no error
    assert load_settings({"CLAUSEWATCH_FETCH_PERHOST": "4"}).fetch.per_host == 2


def test_an_explicit_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from monitor.cli.crawl import local_notifiers
    from monitor.sources import sources_path
    from monitor.store.db import database_url

    monkeypatch.setenv("CLAUSEWATCH_SOURCES", str(tmp_path / "env.yaml"))
    monkeypatch.setenv("CLAUSEWATCH_DB", "sqlite:///env.db")
    monkeypatch.setenv("CLAUSEWATCH_ALERTS_FILE", str(tmp_path / "env.jsonl"))
    assert sources_path("given.yaml") == Path("given.yaml") and sources_path() == tmp_path / "env.yaml"
    assert database_url("sqlite:///given.db") == "sqlite:///given.db" and database_url() == "sqlite:///env.db"
    [from_env] = local_notifiers(None, quiet=True)
    [given] = local_notifiers(str(tmp_path / "given.jsonl"), quiet=True)
    assert (Path(from_env.path).name, Path(given.path).name) == ("env.jsonl", "given.jsonl")


def test_a_bad_value_does_not_hide_a_commands_help() -> None:
    done = CliRunner().invoke(cli, ["run", "--help"], env={"CLAUSEWATCH_LOG_FORMAT": "xml"})
    assert done.exit_code == 0, done.output
    assert "Usage: cli run" in done.output or "Usage: clausewatch run" in done.output
    refused = CliRunner().invoke(cli, ["run", "--once"], env={"CLAUSEWATCH_LOG_FORMAT": "xml"})
    assert refused.exit_code == 2 and "CLAUSEWATCH_LOG_FORMAT" in refused.output
