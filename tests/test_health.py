"""Health and metrics: `clausewatch health` exit codes, and /healthz and /metrics of `serve`."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner
from starlette.testclient import TestClient

from monitor.cli import cli
from monitor.fetch import FetchResult
from monitor.pipeline import Recorder
from monitor.sources import Source
from monitor.store import connect, init_database
from monitor.store.health import check_health, collect_metrics, prometheus_text
from monitor.web.app import create_app

TERMS = """<html><body><main><h1>Terms of Use</h1><h2>3. Restrictions</h2><p>You may not:</p><ol type="a">
<li>use Output to develop models that compete with Example{extra};</li>
<li>reverse engineer, decompile or disassemble the Services.</li></ol>
<h2>4. Changes</h2><p>{filler}</p></main></body></html>"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 5


def _source(source_id: str) -> Source:
    return Source(id=source_id, provider="Example", title="Terms", url=f"https://example.com/{source_id}",
                  select=["main"])


def _ok(body: str, at: dt.datetime) -> FetchResult:
    return FetchResult(url="https://example.com/", outcome="ok", started_at=at, elapsed_ms=5,
                       body=body.encode(), http_status=200, content_type="text/html; charset=utf-8")


def _failed(at: dt.datetime) -> FetchResult:
    return FetchResult(url="https://example.com/", outcome="network_error", started_at=at, elapsed_ms=5,
                       error="connection refused")


def _health(db: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", db, "health", *args])
    return result.exit_code, result.output


def test_health_exit_codes(db_url: str, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)  # ages are measured from the real clock: take it at the test's start
    engine = connect(db_url)
    code, out = _health(db_url)
    assert code == 6 and "clausewatch init" in out  # no schema yet
    init_database(engine)
    assert _health(db_url)[0] == 0  # nothing to watch yet, nothing wrong

    recorder = Recorder(engine)
    good, bad = _source("good"), _source("bad")
    recorder.sync_sources([good, bad])
    code, out = _health(db_url)
    assert code == 6 and "no successful fetch yet" in out

    recorder.record(good, _ok(TERMS.format(extra="", filler=FILLER), now - dt.timedelta(hours=3)))
    assert _health(db_url)[0] == 0
    code, out = _health(db_url, "--max-age", "2h")
    assert code == 6 and "over the limit of 2h" in out

    for minutes in (30, 20, 10):
        recorder.record(bad, _failed(now - dt.timedelta(minutes=minutes)))
    code, out = _health(db_url, "--json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "degraded"
    assert report["failing_sources"] == [{"source": "bad", "failures_in_a_row": 3, "last_outcome": "network_error",
                                          "last_error": "connection refused"}]
    assert 3 * 3600 - 60 < report["last_success_age_seconds"] < 3 * 3600 + 60


def test_health_of_an_unreachable_database_is_unhealthy() -> None:
    code, out = _health("postgresql://nobody@127.0.0.1:1/none")
    assert code == 6 and "cannot reach the database" in out and "Traceback" not in out


def test_healthz_and_metrics(db_url: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    engine = connect(db_url)
    init_database(engine)
    client = TestClient(create_app(engine))  # no `with`: the warm-up of the history pages is not needed here
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"

    recorder = Recorder(engine)
    source, failing = _source("terms"), _source("failing")
    recorder.sync_sources([source, failing])
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"

    recorder.record(source, _ok(TERMS.format(extra="", filler=FILLER), now - dt.timedelta(minutes=5)))
    recorder.record(source, _ok(TERMS.format(extra=" or any other AI provider, or to train any model", filler=FILLER),
                                now - dt.timedelta(minutes=1)))
    for _ in range(3):
        recorder.record(failing, _failed(now))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"  # degraded still serves

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _parse_exposition(response.text)
    assert samples['clausewatch_up'] == 1
    assert samples['clausewatch_fetch_attempts_total{outcome="ok"}'] == 2
    assert samples['clausewatch_fetch_attempts_total{outcome="network_error"}'] == 3
    assert samples['clausewatch_fetch_attempts_total{outcome="timeout"}'] == 0
    assert samples['clausewatch_sources'] == 2 and samples['clausewatch_sources_failing'] == 1
    assert samples['clausewatch_versions_total'] == 2
    events = {key: value for key, value in samples.items() if key.startswith("clausewatch_change_events_total")}
    assert set(events) == {f'clausewatch_change_events_total{{direction="{d}"}}'
                           for d in ("tightened", "loosened", "reworded", "unclear")}
    assert sum(events.values()) >= 1 and events['clausewatch_change_events_total{direction="tightened"}'] >= 1
    assert 50 <= samples["clausewatch_last_success_age_seconds"] < 600
    assert samples['clausewatch_worker_sources{state="due"}'] == 0


def test_metrics_when_the_database_is_away() -> None:
    engine = connect("postgresql://nobody@127.0.0.1:1/none")
    assert prometheus_text(collect_metrics(engine)).endswith("clausewatch_up 0.0\n")
    client = TestClient(create_app(engine))
    assert client.get("/metrics").text.endswith("clausewatch_up 0.0\n")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] is False
    assert check_health(engine).exit_code == 6


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})?) (-?[0-9.e+]+)$')


def _parse_exposition(text: str) -> dict[str, float]:
    """Every sample line of the text format; fails on a line that is neither a sample nor HELP/TYPE."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge") and name not in typed
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        assert match.group(1).split("{")[0] in typed, f"sample before its TYPE: {line!r}"
        samples[match.group(1)] = float(match.group(2))
    return samples


def test_health_and_worker_help_show_an_example() -> None:
    for command in ("health", "worker"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_sources_yaml_is_not_needed_for_health(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": "not a list"}))
    db = f"sqlite:///{tmp_path / 'cw.db'}"
    init_database(connect(db))
    assert _health(db)[0] == 0
