"""Operations: `config` (values, origins, masking), logs (human and JSON lines), `prune` (keeps versions,
snapshots, events and evidence) and `export` / `import-export` (SQLite -> PostgreSQL -> SQLite, identical)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
import io
import json
import logging
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import _postgres_database
from monitor.cli import cli
from monitor.effective_settings import collect_settings, mask_database_url, unknown_variables

SECRET = "hunter2-s3cret"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CLAUSEWATCH_"):
            monkeypatch.delenv(name)


def by_name(settings: list) -> dict:
    return {setting.name: setting for setting in settings}


# ------------------------------------------------------------------------------ config


def test_settings_say_where_each_value_came_from() -> None:
    environ = {"CLAUSEWATCH_SOURCES": "/etc/cw/sources.yaml", "CLAUSEWATCH_FETCH_PER_HOST": "4",
               "CLAUSEWATCH_DB": f"postgresql://cw:{SECRET}@db/cw"}
    settings = by_name(collect_settings(environ, {"database": "sqlite:///other.db", "fetch.concurrency": 7}))
    assert (settings["database"].value, settings["database"].origin) == ("sqlite:///other.db", "option")
    assert (settings["sources_file"].value, settings["sources_file"].origin) == ("/etc/cw/sources.yaml", "env")
    assert (settings["fetch.per_host"].value, settings["fetch.per_host"].origin) == (4, "env")
    assert (settings["fetch.concurrency"].value, settings["fetch.concurrency"].origin) == (7, "option")
    assert (settings["fetch.retries"].value, settings["fetch.retries"].origin) == (2, "default")
    assert settings["log_format"].value == "human" and settings["alerts_file"].env == "CLAUSEWATCH_ALERTS_FILE"
    from monitor.fetch.settings import FetchSettings

    assert {f"fetch.{name}" for name in FetchSettings.model_fields} <= set(settings)


def test_database_secrets_are_masked() -> None:
    assert mask_database_url(f"postgresql://cw:{SECRET}@db:5432/cw") == "postgresql://cw:***@db:5432/cw"
    masked = mask_database_url(f"postgresql://cw@db/cw?sslmode=require&password={SECRET}")
    assert SECRET not in masked and "sslmode=require" in masked
    assert mask_database_url("sqlite:///clausewatch.db") == "sqlite:///clausewatch.db"
    settings = by_name(collect_settings({"CLAUSEWATCH_DB": f"postgresql://cw:{SECRET}@db/cw"}))
    assert settings["database"].value == "postgresql://cw:***@db/cw" and settings["database"].origin == "env"


def test_unknown_variables_are_named_never_shown() -> None:
    environ = {"CLAUSEWATCH_FETCH_PERHOST": "4", "CLAUSEWATCH_SLACK_TOKEN": SECRET, "CLAUSEWATCH_DB": "x"}
    assert unknown_variables(environ) == ["CLAUSEWATCH_FETCH_PERHOST", "CLAUSEWATCH_SLACK_TOKEN"]


def test_config_command(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"CLAUSEWATCH_FETCH_PER_HOST": "4", "CLAUSEWATCH_SOURCES": "env-sources.yaml",
           "CLAUSEWATCH_SLACK_TOKEN": SECRET}
    runner = CliRunner()
    done = runner.invoke(cli, ["--db", f"postgresql://cw:{SECRET}@db/cw", "config", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert SECRET not in done.output
    data = json.loads(done.output)
    settings = {setting["name"]: setting for setting in data["settings"]}
    assert settings["database"] | {"help": ""} == {
        "name": "database", "value": "postgresql://cw:***@db/cw", "origin": "option", "env": "CLAUSEWATCH_DB",
        "option": "--db", "help": ""}
    assert (settings["sources_file"]["value"], settings["sources_file"]["origin"]) == ("env-sources.yaml", "env")
    assert (settings["fetch.per_host"]["value"], settings["fetch.per_host"]["origin"]) == (4, "env")
    assert settings["config_file"]["value"] == "clausewatch.yaml (absent: no alert channels)"
    assert data["unknown_variables"] == ["CLAUSEWATCH_SLACK_TOKEN"]
    # the same through the environment: origin env, still masked; and the table for people
    done = runner.invoke(cli, ["config"], env={"CLAUSEWATCH_DB": f"postgresql://cw:{SECRET}@db/cw", **env})
    assert done.exit_code == 0 and SECRET not in done.output
    assert "postgresql://cw:***@db/cw" in done.output and "CLAUSEWATCH_SLACK_TOKEN" in done.output
    bad = runner.invoke(cli, ["config"], env={"CLAUSEWATCH_FETCH_RETRIES": "many"})
    assert bad.exit_code == 2 and "CLAUSEWATCH_FETCH_RETRIES" in bad.output


def test_settings_match_the_options_of_the_command_line() -> None:
    """Each setting's option is on the command line (global, or on the commands its `option` names), its help
    names the setting's variable, and no option reads a variable itself: monitor.settings reads them all."""
    import importlib
    import re

    from monitor.cli import LAZY_COMMANDS
    from monitor.settings import setting_fields, shown, variable

    for module in set(LAZY_COMMANDS.values()):
        importlib.import_module(module)
    params = [(None, param) for param in cli.params] + [
        (name, param) for name, command in cli.commands.items() for param in command.params]
    assert [param.name for _, param in params if param.envvar] == []
    checked = 0
    for name, field in setting_fields().items():
        if shown(field).option is None:
            continue
        flag = shown(field).option.split()[0].split("/")[-1]
        commands = set(re.findall(r"\((.*)\)", shown(field).option)[0].split(", ")) if "(" in shown(field).option \
            else {None}
        found = [(command, param) for command, param in params if flag in param.opts]
        assert commands <= {command for command, _ in found}, name
        assert all(variable(name) in (param.help or "") for _, param in found), name
        if field.default is not None and not isinstance(field.default, bool):  # the help says the model's default
            assert all(str(field.default) in (param.help or "") for _, param in found), name
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", ["config", "prune", "export", "import-export"])
def test_help_has_an_example(command: str) -> None:
    done = CliRunner().invoke(cli, [command, "--help"])
    assert done.exit_code == 0 and "Example" in done.output, done.output


# ------------------------------------------------------------------------------ logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("monitor.capture").setLevel(logging.NOTSET)


def test_json_logs_are_one_object_per_line(restore_logging: None) -> None:
    from monitor.logs import configure_logging, log_capture

    stream = io.StringIO()
    configure_logging("json", verbose=False, stream=stream)
    configure_logging("json", verbose=False, stream=stream)  # again: replaces its handler, no duplicates
    log_capture("openai-terms", "new_version", attempt_outcome="ok", attempt_id=42, http_status=200,
                body_bytes=5120, fetch_ms=180, record_ms=35, version_seq=3, events=1)
    log_capture("le-chat-terms", "failed", attempt_outcome="blocked", attempt_id=43, error="bot challenge")
    logging.getLogger("monitor.other").info("hidden without -v")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["ts"].endswith("Z") and first["level"] == "info" and first["logger"] == "monitor.capture"
    assert {key: first[key] for key in ("source", "attempt_id", "outcome", "attempt_outcome", "http_status",
                                        "bytes", "fetch_ms", "record_ms", "version", "events")} == {
        "source": "openai-terms", "attempt_id": 42, "outcome": "new_version", "attempt_outcome": "ok",
        "http_status": 200, "bytes": 5120, "fetch_ms": 180, "record_ms": 35, "version": 3, "events": 1}
    assert (second["level"], second["attempt_outcome"], second["error"]) == ("warning", "blocked", "bot challenge")


def test_human_logs_show_failures_and_with_verbose_every_capture(restore_logging: None) -> None:
    from monitor.errors import UsageError
    from monitor.logs import configure_logging, log_capture

    stream = io.StringIO()
    configure_logging("human", verbose=False, stream=stream)
    log_capture("a", "unchanged", attempt_id=1, fetch_ms=10)
    log_capture("b", "failed", attempt_outcome="timeout", attempt_id=2, error="read timed out")
    assert "capture a" not in stream.getvalue()
    assert "WARNING monitor.capture: capture b: failed attempt_id=2 attempt_outcome=timeout" in stream.getvalue()
    configure_logging("human", verbose=True, stream=stream)
    log_capture("a", "unchanged", attempt_id=3, fetch_ms=10)
    assert "INFO monitor.capture: capture a: unchanged attempt_id=3" in stream.getvalue()
    with pytest.raises(UsageError):
        configure_logging("xml", verbose=False)


# ------------------------------------------------------------------------------ history to work on


def build_history(corpus: Path, tmp_path: Path, url: str) -> None:
    """A small real history: Le Chat's commercial terms (6 versions, events) and the first Llama API
    terms captures (error pages among them: failed attempts), through the importer."""
    from monitor.importer import import_history
    from monitor.pipeline import Recorder
    from monitor.store import connect, init_database

    dataset = tmp_path / f"dataset-{abs(hash(url))}"
    shutil.copytree(corpus / "genai-eu" / "Le Chat" / "Commercial Terms", dataset / "Le Chat" / "Commercial Terms")
    llama = sorted((corpus / "genai-eu" / "Llama API" / "Terms of Service").glob("*.md"))[:12]
    (dataset / "Llama API" / "Terms of Service").mkdir(parents=True)
    for path in llama:
        shutil.copy(path, dataset / "Llama API" / "Terms of Service" / path.name)
    engine = connect(url)
    init_database(engine)
    import_history(Recorder(engine), dataset)
    engine.dispose()


def add_notification(url: str) -> None:
    """One outbox row, as a configured channel would have (the importer sends no alerts)."""
    from monitor.store.payloads import event_payload
    from monitor.store import ChangeEvent, Notification, SourceRow, Version, connect, session_scope

    engine = connect(url)
    with session_scope(engine) as session:
        event = session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)).first()
        source, version = session.get(SourceRow, event.source_id), session.get(Version, event.version_id)
        session.add(Notification(key=f"clause_change/{event.id}/team", channel="team", type="clause_change",
                                 event_id=event.id, source_id=source.id, payload=event_payload(event, source, version),
                                 status="failed", attempts=2, last_error="HTTP 503",
                                 created_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)))
    engine.dispose()


def dump(url: str) -> dict[str, list[dict]]:
    """Every row of every table, ordered by primary key, bodies decompressed."""
    from monitor.store import connect
    from monitor.store.portable import tables

    engine = connect(url)
    out = {}
    with engine.connect() as connection:
        for table in tables():
            rows = [dict(row._mapping) for row in connection.execute(
                select(table).order_by(*table.primary_key.columns))]
            if table.name == "snapshot":
                for row in rows:
                    row["body"] = zlib.decompress(row["body"])
            out[table.name] = rows
    engine.dispose()
    return out


def counts(url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in dump(url).items()}


# ------------------------------------------------------------------------------ prune


def test_prune_keeps_versions_snapshots_events_and_evidence(corpus: Path, tmp_path: Path, db_url: str) -> None:
    from monitor.store import FetchAttempt, connect, session_scope
    from monitor.store.history import versions_of

    build_history(corpus, tmp_path, db_url)
    before = counts(db_url)
    engine = connect(db_url)
    with session_scope(engine) as session:
        evidence = {source: versions_of(session, source) for source in
                    ("le-chat-commercial-terms", "llama-api-terms-of-service")}
        attempts = session.execute(select(FetchAttempt.id, FetchAttempt.source_id, FetchAttempt.version_id,
                                          FetchAttempt.outcome, FetchAttempt.started_at)).all()
    newest = {source: max(a.id for a in attempts if a.source_id == source) for source in {a.source_id for a in attempts}}
    first_of_version = {version: min(a.id for a in attempts if a.version_id == version)
                        for version in {a.version_id for a in attempts if a.version_id}}
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    keep = set(newest.values()) | set(first_of_version.values()) | {a.id for a in attempts if a.started_at >= cutoff}
    expected = len(attempts) - len(keep)
    assert expected > 0 and any(a.outcome == "invalid" for a in attempts)

    runner = CliRunner()
    dry = runner.invoke(cli, ["--db", db_url, "prune", "--attempts-older-than", "30d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would delete {expected} fetch attempts" in dry.output
    assert counts(db_url) == before
    done = runner.invoke(cli, ["--db", db_url, "prune", "--attempts-older-than", "30d"])
    assert done.exit_code == 0 and f"deleted {expected} fetch attempts" in done.output, done.output
    after = counts(db_url)
    assert after["fetch_attempt"] == before["fetch_attempt"] - expected
    tallied = ("fetch_attempt", "pruned_attempts")
    assert {name: count for name, count in after.items() if name not in tallied} == \
        {name: count for name, count in before.items() if name not in tallied}
    with session_scope(engine) as session:
        kept = set(session.scalars(select(FetchAttempt.id)))
        assert keep == kept
        # snapshots whose attempts were all pruned stay, and every version keeps its fetch time
        assert {source: versions_of(session, source) for source in evidence} == evidence
    # what prune deleted stays counted: the /metrics totals by outcome never go down
    pruned = Counter(a.outcome for a in attempts if a.id not in keep)
    assert after["pruned_attempts"] == len(pruned)
    totals = _attempt_totals(engine)
    assert totals == Counter(a.outcome for a in attempts) and sum(pruned.values()) == expected
    again = runner.invoke(cli, ["--db", db_url, "prune", "--attempts-older-than", "30d"])
    assert "deleted 0 fetch attempts" in again.output
    recent = runner.invoke(cli, ["--db", db_url, "prune", "--attempts-older-than", "36000d"])
    assert "deleted 0" in recent.output
    bad = runner.invoke(cli, ["--db", db_url, "prune", "--attempts-older-than", "soon"])
    assert bad.exit_code == 2
    engine.dispose()


def _attempt_totals(engine) -> Counter:
    from monitor.store.health import collect_metrics

    (metric,) = [m for m in collect_metrics(engine) if m.name == "clausewatch_fetch_attempts_total"]
    return Counter({labels["outcome"]: value for labels, value in metric.samples if value})


# ------------------------------------------------------------------------------ export / import-export


@pytest.fixture
def other_database(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """For a history on `db_url`: a fresh database of the other kind, and a fresh one of the same kind."""
    postgres = _postgres_database()
    if db_url.startswith("sqlite"):
        middle = next(postgres)
        yield middle, f"sqlite:///{tmp_path / 'final.db'}"
    else:
        middle = f"sqlite:///{tmp_path / 'middle.db'}"
        yield middle, next(postgres)
    postgres.close()


def test_export_import_round_trip_across_databases(corpus: Path, tmp_path: Path, db_url: str,
                                                   other_database: tuple[str, str]) -> None:
    """db_url --JSON lines--> the other kind --CSV zip--> a fresh one of the first kind: identical rows."""
    middle, final = other_database
    build_history(corpus, tmp_path, db_url)
    add_notification(db_url)
    original = dump(db_url)
    assert all(original[name] for name in ("source", "fetch_attempt", "snapshot", "version", "clause",
                                           "change_event", "notification"))
    runner = CliRunner()
    exported = runner.invoke(cli, ["--db", db_url, "export", "--format", "json", "-o", str(tmp_path / "h.jsonl.gz")])
    assert exported.exit_code == 0, exported.output
    loaded = runner.invoke(cli, ["--db", middle, "import-export", str(tmp_path / "h.jsonl.gz")])
    assert loaded.exit_code == 0, loaded.output
    assert dump(middle) == original
    zipped = runner.invoke(cli, ["--db", middle, "export", "--format", "csv", "-o", str(tmp_path / "h.zip")])
    assert zipped.exit_code == 0, zipped.output
    back = runner.invoke(cli, ["--db", final, "import-export", str(tmp_path / "h.zip")])
    assert back.exit_code == 0, back.output
    assert dump(final) == original
    # the same history again: refused, the database is not empty
    twice = runner.invoke(cli, ["--db", final, "import-export", str(tmp_path / "h.zip")])
    assert twice.exit_code == 2 and "empty database" in twice.output
    # new rows after an import get fresh ids (PostgreSQL sequences moved past the imported ids)
    from monitor.store import FetchAttempt, connect, session_scope

    for url in (middle, final):
        engine = connect(url)
        with session_scope(engine) as session:
            highest = session.scalar(select(func.max(FetchAttempt.id)))
            attempt = FetchAttempt(source_id="le-chat-commercial-terms", outcome="ok",
                                   started_at=dt.datetime.now(dt.timezone.utc))
            session.add(attempt)
            session.flush()
            assert attempt.id == highest + 1
        engine.dispose()


def test_export_json_lines_format(corpus: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    build_history(corpus, tmp_path, url)
    done = CliRunner().invoke(cli, ["--db", url, "export"])
    assert done.exit_code == 0
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    header, records = lines[0], lines[1:]
    assert header["format"] == "clausewatch-export" and header["version"] == 1 and header["schema"]
    order = [record["table"] for record in records]
    assert order.index("source") < order.index("snapshot") < order.index("version") < order.index("clause")
    snapshot = next(record["row"] for record in records if record["table"] == "snapshot")
    import base64

    assert base64.b64decode(snapshot["body"]).startswith(b"#") or snapshot["size"] == len(
        base64.b64decode(snapshot["body"]))
    assert snapshot["first_seen"].endswith("Z")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something-else"}\n')
    refused = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "import-export", str(bad)])
    assert refused.exit_code == 2 and "not a ClauseWatch export" in refused.output
