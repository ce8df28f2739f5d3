"""The outbox on SQLite and PostgreSQL: rows written with the events, sent after the commit, retried, never twice."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, update

from monitor.alerts.config import AlertsConfig, parse_alerts_config
from monitor.alerts.outbox import deliver_outbox, list_notifications
from monitor.pipeline import Recorder, ingest_file
from monitor.store import ChangeEvent, Notification, Snapshot, Version, connect, init_database, session_scope
from test_alerts import SECRET, Receiver, clausewatch
from test_pipeline import FILLER, TERMS, fetched, source

A = TERMS.format(extra=FILLER)
# two clauses tightened: the exception of (a) is gone, (b) now covers models
B = A.replace(", except for a Permitted Exception", "").replace(
    "disassemble the Services;", "disassemble the Services or any model;")
# the exception comes back to (a), (b) stays: loosened, and not a revert
C = B.replace("compete with Example;", "compete with Example, except for a Permitted Exception;")


@pytest.fixture
def receiver():
    server = Receiver(secret=SECRET)
    yield server
    server.down()


def config_for(tmp_path: Path, text: str) -> AlertsConfig:
    return parse_alerts_config(tmp_path / "clausewatch.yaml", text, {"CW_SECRET": SECRET})


def hook_config(receiver: Receiver, tmp_path: Path, extra: str = "") -> AlertsConfig:
    return config_for(tmp_path, f"""\
base_url: https://watch.example.org
channels:
  hook:
    kind: webhook
    url: {receiver.url()}
    secret: ${{CW_SECRET}}
    retries: 0
    timeout: 5
outbox:
  backoff: 0
{extra}""")


def recorder(db_url: str, config: AlertsConfig, **options: int) -> Recorder:
    engine = connect(db_url)
    init_database(engine)
    return Recorder(engine, alerts=config, **options)


def rows(rec: Recorder) -> list[Notification]:
    with session_scope(rec.engine) as session:
        return session.execute(select(Notification).order_by(Notification.id)).scalars().all()


def delivered_events(receiver: Receiver) -> list[dict]:
    return [event for body in receiver.json() for event in body["events"]]


def test_down_then_up_every_alert_is_delivered_exactly_once(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    rec = recorder(db_url, hook_config(receiver, tmp_path))
    rec.record(source(), fetched(A, 0))
    receiver.down()
    outcome = rec.record(source(), fetched(B, 1))
    assert len(outcome.events) == 2
    queued = rows(rec)
    assert [row.status for row in queued] == ["pending", "pending"]  # committed with the events, not yet sent
    with session_scope(rec.engine) as session:
        event_ids = session.execute(select(ChangeEvent.id).where(ChangeEvent.alert)).scalars().all()
        snapshot_sha = session.execute(select(Snapshot.sha256).join(Version, Version.snapshot_id == Snapshot.id)
                                       .where(Version.seq == 2)).scalar_one()
    assert sorted(row.event_id for row in queued) == sorted(event_ids)

    first = deliver_outbox(rec.engine, rec.alerts)
    assert first.sent == 0 and first.failed == 1 and "hook" in first.errors[0]  # the rest waits for the next run
    failed = rows(rec)
    assert [(row.status, row.attempts) for row in failed] == [("failed", 1), ("pending", 0)]
    assert "ConnectError" in failed[0].last_error

    receiver.up()
    second = deliver_outbox(rec.engine, rec.alerts)
    assert second.sent == 2 and second.errors == []
    assert deliver_outbox(rec.engine, rec.alerts).sent == 0  # nothing twice
    rec.record(source(), fetched(B, 2))  # unchanged: no new notification
    assert deliver_outbox(rec.engine, rec.alerts).sent == 0
    events = delivered_events(receiver)
    assert sorted(event["id"] for event in events) == sorted(event_ids)
    ids = [request["headers"]["x-clausewatch-id"] for request in receiver.received]
    assert len(set(ids)) == len(ids) == 2 and set(ids) == {row.key for row in rows(rec)}
    assert all(row.status == "sent" and row.sent_at is not None for row in rows(rec))
    assert {event["snapshot_sha256"] for event in events} == {snapshot_sha}
    assert all(event["history_url"] == f"https://watch.example.org/sources/example-terms/clauses/{event['key']}"
               for event in events)


def test_rows_roll_back_with_the_events(db_url: str, receiver: Receiver, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rec = recorder(db_url, hook_config(receiver, tmp_path))
    rec.record(source(), fetched(A, 0))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("monitor.alerts.outbox.Notification", broken)
    with pytest.raises(RuntimeError):
        rec.record(source(), fetched(B, 1))
    with session_scope(rec.engine) as session:  # no event without its notifications
        assert session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 1


def test_a_channel_subscribed_to_loosened_gets_only_loosened(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    other = Receiver(secret=SECRET)
    try:
        config = config_for(tmp_path, f"""\
channels:
  loose: {{kind: webhook, url: "{receiver.url('/loose')}", secret: "${{CW_SECRET}}", retries: 0}}
  tight: {{kind: webhook, url: "{other.url('/tight')}", secret: "${{CW_SECRET}}", retries: 0}}
routes:
  - channels: [loose]
    directions: [loosened]
  - channels: [tight]
""")
        rec = recorder(db_url, config)
        for minute, text in enumerate([A, B, C]):
            rec.record(source(), fetched(text, minute))
            assert deliver_outbox(rec.engine, config).errors == []
    finally:
        other.down()
    assert [event["direction"] for event in delivered_events(receiver)] == ["loosened"]
    assert [event["direction"] for event in delivered_events(other)] == ["tightened", "tightened"]
    assert {request["path"] for request in receiver.received} == {"/loose"}


def test_revert_and_technical_versions_notify_nobody(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    rec = recorder(db_url, hook_config(receiver, tmp_path, "routes:\n  - channels: [hook]\n    directions: "
                                                         "[tightened, loosened, reworded, unclear]\n"))
    rec.record(source(), fetched(A, 0))
    rec.record(source(), fetched(B, 1))
    rec.record(source(), fetched(A, 2))  # a flap back to version 1
    rec.record(source(), fetched(C, 3), technical=True)
    assert len(rows(rec)) == 2


def test_digest_per_run_is_one_message_and_per_day_waits_for_the_day_to_end(
        db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    daily = Receiver(secret=SECRET)
    try:
        config = config_for(tmp_path, f"""\
channels:
  run: {{kind: webhook, url: "{receiver.url()}", secret: "${{CW_SECRET}}"}}
  day: {{kind: webhook, url: "{daily.url()}", secret: "${{CW_SECRET}}"}}
routes:
  - {{channels: [run], delivery: digest, digest: run}}
  - {{channels: [day], delivery: digest, digest: day, directions: [tightened, loosened]}}
""")
        rec = recorder(db_url, config)
        for minute, text in enumerate([A, B, C]):
            rec.record(source(), fetched(text, minute))
        report = deliver_outbox(rec.engine, config)
        assert report.messages == 1 and report.sent == 2  # the day is not over: only the run digest
        assert len(receiver.received) == 1
        body = receiver.json()[0]
        assert body["digest"] is True and len(body["events"]) == 2 and body["id"].startswith("cw-")
        tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        report = deliver_outbox(rec.engine, config, now=tomorrow)
        assert report.messages == 1 and report.sent == 3
        assert sorted(event["direction"] for event in delivered_events(daily)) == ["loosened", "tightened",
                                                                                  "tightened"]
        assert deliver_outbox(rec.engine, config, now=tomorrow).sent == 0
    finally:
        daily.down()


def test_a_failed_digest_keeps_its_id_when_retried(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    config = hook_config(receiver, tmp_path, "routes:\n  - {channels: [hook], delivery: digest}\n")
    rec = recorder(db_url, config)
    rec.record(source(), fetched(A, 0))
    rec.record(source(), fetched(B, 1))
    receiver.status = 503
    assert deliver_outbox(rec.engine, config).failed == 2
    rec.record(source(), fetched(C, 2))  # a later event does not join the failed digest
    receiver.status = 200
    assert deliver_outbox(rec.engine, config).sent == 2
    bodies = receiver.json()
    assert len(bodies) == 1 and len(bodies[0]["events"]) == 2
    assert {row.batch for row in rows(rec)} == {bodies[0]["id"]}


def test_operators_route_gets_source_notices_and_clause_routes_do_not(db_url: str, receiver: Receiver,
                                                                      tmp_path: Path) -> None:
    ops = Receiver(secret=SECRET)
    try:
        config = config_for(tmp_path, f"""\
channels:
  clauses: {{kind: webhook, url: "{receiver.url()}", secret: "${{CW_SECRET}}"}}
  ops: {{kind: webhook, url: "{ops.url()}", secret: "${{CW_SECRET}}"}}
routes:
  - channels: [clauses]
operators:
  channels: [ops]
""")
        rec = recorder(db_url, config, failing_after=2)
        rec.record(source(), fetched(A, 0))
        for minute in range(1, 4):
            rec.record(source(), fetched("", minute, "http_error"))
        rec.record(source(), fetched(A, 5))
        assert deliver_outbox(rec.engine, config).sent == 2
    finally:
        ops.down()
    notices = [notice for body in ops.json() for notice in body["notices"]]
    assert [notice["type"] for notice in notices] == ["source_failing", "source_recovered"]
    assert receiver.received == []


def test_backoff_max_attempts_and_retry(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    config = config_for(tmp_path, f"""\
channels:
  hook: {{kind: webhook, url: "{receiver.url()}", secret: "${{CW_SECRET}}", retries: 0}}
outbox: {{backoff: 10m, backoff_max: 30m, max_attempts: 3}}
""")
    rec = recorder(db_url, config)
    rec.record(source(), fetched(A, 0))
    rec.record(source(), fetched(B, 1))
    receiver.status = 500
    now = dt.datetime.now(dt.timezone.utc)
    assert deliver_outbox(rec.engine, config, now=now).failed == 1
    assert deliver_outbox(rec.engine, config, now=now + dt.timedelta(minutes=9)).failed == 1  # the other row
    assert deliver_outbox(rec.engine, config, now=now + dt.timedelta(minutes=9)).failed == 0  # both backing off
    waits = sorted(row.next_attempt_at - now for row in rows(rec))
    assert waits == [dt.timedelta(minutes=10), dt.timedelta(minutes=19)]
    later = now + dt.timedelta(hours=1)
    assert deliver_outbox(rec.engine, config, now=later).failed == 1  # attempt 2: waits 20 minutes
    assert deliver_outbox(rec.engine, config, now=later + dt.timedelta(hours=1)).failed == 1
    assert deliver_outbox(rec.engine, config, now=later + dt.timedelta(hours=2)).failed == 1  # attempt 3
    gave_up = [row for row in rows(rec) if row.attempts == 3]
    assert gave_up and gave_up[0].next_attempt_at is None and gave_up[0].status == "failed"
    receiver.status = 200
    assert deliver_outbox(rec.engine, config, now=later + dt.timedelta(days=30)).sent == 1  # the one still trying
    assert deliver_outbox(rec.engine, config, now=later + dt.timedelta(days=30)).sent == 0
    assert deliver_outbox(rec.engine, config, retry=True).sent == 1  # --retry sends what gave up, too
    assert len(receiver.received) == 2
    with session_scope(rec.engine) as session:
        assert [row["status"] for row in list_notifications(session, pending=True)] == []


def test_a_message_claimed_by_a_process_that_died_is_sent_again_with_the_same_id(
        db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    config = hook_config(receiver, tmp_path)
    rec = recorder(db_url, config)
    rec.record(source(), fetched(A, 0))
    rec.record(source(), fetched(B, 1))
    now = dt.datetime.now(dt.timezone.utc)
    with session_scope(rec.engine) as session:  # as if another process had claimed them and crashed
        session.execute(update(Notification).values(status="sending", claimed_at=now))
    assert deliver_outbox(rec.engine, config, now=now).sent == 0  # in flight elsewhere: left alone
    with session_scope(rec.engine) as session:  # leases run on the database's clock: the claim grows old
        session.execute(update(Notification).values(claimed_at=now - dt.timedelta(minutes=16)))
    assert deliver_outbox(rec.engine, config, now=now).sent == 2
    assert {request["headers"]["x-clausewatch-id"] for request in receiver.received} == {row.key for row in rows(rec)}


def test_ingest_sends_after_the_commit(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    rec = recorder(db_url, hook_config(receiver, tmp_path))
    for minute, text in enumerate([A, B]):
        path = tmp_path / f"v{minute}.md"
        path.write_text(text)
        ingest_file(rec, source(), str(path), dt.datetime(2026, 1, 1, minute, tzinfo=dt.timezone.utc))
    assert len(delivered_events(receiver)) == 2 and all(row.status == "sent" for row in rows(rec))


# ---------------------------------------------------------------- the real CLI, end to end


def test_cli_runs_receiver_down_then_up_feed_ids_stable(db_url: str, local_server, receiver: Receiver,
                                                        tmp_path: Path) -> None:
    import feedparser

    local_server.serve("/terms.md", A, content_type="text/markdown; charset=utf-8")
    entry = {"id": "example-terms", "provider": "Example", "title": "Terms of Use",
             "url": local_server.url("/terms.md"), "format": "markdown", "allow_private": True,
             "respect_robots": False}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))
    (tmp_path / "clausewatch.yaml").write_text(f"""\
channels:
  hook:
    kind: webhook
    url: {receiver.url()}
    secret: ${{CW_SECRET}}
    retries: 0
  feed:
    kind: atom
    directory: feeds
routes:
  - channels: [hook]
  - channels: [feed]
    directions: [tightened, loosened, reworded, unclear]
outbox:
  backoff: 0
""")
    env = {"CW_SECRET": SECRET}

    def run() -> None:
        done = clausewatch("--db", db_url, "run", "--once", "--quiet", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
        return done

    run()
    receiver.down()
    local_server.serve("/terms.md", B, content_type="text/markdown; charset=utf-8")
    down = run()
    assert "alert channel failed" in down.stderr and "hook" in down.stderr
    assert not (tmp_path / "alerts.jsonl").exists()  # with a clausewatch.yaml the channels carry the alerts
    pending = clausewatch("--db", db_url, "alerts", "--pending", "--json", cwd=tmp_path, env=env)
    waiting = json.loads(pending.stdout)
    assert {row["status"] for row in waiting} == {"failed", "pending"} and len(waiting) == 2
    feed = feedparser.parse(str(tmp_path / "feeds" / "all.xml"))
    assert feed.bozo == 0 and len(feed.entries) == 2
    first_ids = [entry.id for entry in feed.entries]

    receiver.up()
    run()  # the page is unchanged: only the outbox has work
    assert len(delivered_events(receiver)) == 2
    run()
    assert len(delivered_events(receiver)) == 2  # exactly once
    ids = [request["headers"]["x-clausewatch-id"] for request in receiver.received]
    assert len(ids) == len(set(ids)) == 2

    local_server.serve("/terms.md", C, content_type="text/markdown; charset=utf-8")
    run()  # a loosened change: the feed's route takes it, the hook's does not
    assert len(delivered_events(receiver)) == 2
    feed = feedparser.parse(str(tmp_path / "feeds" / "all.xml"))
    assert feed.bozo == 0 and len(feed.entries) == 3
    assert [entry.id for entry in feed.entries][1:] == first_ids or set(first_ids) < {e.id for e in feed.entries}
    per_source = feedparser.parse(str(tmp_path / "feeds" / "example-terms.xml"))
    assert per_source.bozo == 0 and len(per_source.entries) == 3

    shown = clausewatch("--db", db_url, "alerts", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and "sent" in shown.stdout and SECRET not in shown.stdout
    assert json.loads(clausewatch("--db", db_url, "alerts", "--pending", "--json", cwd=tmp_path,
                                  env=env).stdout) == []


def test_cli_alerts_retry_sends_what_failed(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [
        {"id": "example-terms", "provider": "Example", "title": "Terms of Use", "url": "https://example.com/terms",
         "format": "markdown"}]}))
    (tmp_path / "clausewatch.yaml").write_text(
        f"channels:\n  hook:\n    kind: webhook\n    url: {receiver.url()}\n    secret: ${{CW_SECRET}}\n"
        f"    retries: 0\noutbox:\n  backoff: 1h\n")
    env = {"CW_SECRET": SECRET}
    for name, text in (("a.md", A), ("b.md", B)):
        (tmp_path / name).write_text(text)
    receiver.status = 503
    assert clausewatch("--db", db_url, "ingest", "example-terms", "a.md", cwd=tmp_path, env=env).returncode == 0
    done = clausewatch("--db", db_url, "ingest", "example-terms", "b.md", cwd=tmp_path, env=env)
    assert done.returncode == 0 and "TIGHTENED" in done.stdout
    shown = clausewatch("--db", db_url, "alerts", "--pending", cwd=tmp_path, env=env)
    assert "failed" in shown.stdout and "HTTP 503" in shown.stdout
    receiver.status = 200
    retried = clausewatch("--db", db_url, "alerts", "--retry", cwd=tmp_path, env=env)
    assert retried.returncode == 0 and "retried: sent 2, failed 0" in retried.stdout, retried.stdout + retried.stderr
    assert len(delivered_events(receiver)) == 2


def test_the_outbox_queues_the_events_the_recorder_wrote_without_reading_them_back(
        db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    """Every event of a new version, as recorded, becomes a row; recording with alert routes costs no SELECT
    more than recording without (the outbox read the version and its events back)."""
    from sqlalchemy import event

    from monitor.store.payloads import event_payload
    from monitor.store import SourceRow

    config = hook_config(receiver, tmp_path, "routes:\n  - channels: [hook]\n    directions: "
                                             "[tightened, loosened, reworded, unclear]\n")
    loud = recorder(db_url, config)
    quiet = Recorder(loud.engine)

    def selects_recording(rec: Recorder, watched: str) -> int:
        rec.record(source(id=watched), fetched(A, 0))
        statements: list[str] = []

        def count(connection, cursor, statement, *rest):  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(rec.engine, "before_cursor_execute", count)
        try:
            assert len(rec.record(source(id=watched), fetched(B, 1)).events) == 2
        finally:
            event.remove(rec.engine, "before_cursor_execute", count)
        return sum(statement.lstrip().upper().startswith("SELECT") for statement in statements)

    assert selects_recording(loud, "loud") == selects_recording(quiet, "quiet")
    with session_scope(loud.engine) as session:
        version = session.execute(select(Version).where(Version.source_id == "loud", Version.seq == 2)).scalar_one()
        row = session.get(SourceRow, "loud")
        snapshot_sha = session.get(Snapshot, version.snapshot_id).sha256
        recorded = [{**event_payload(change, row, version), "snapshot_sha256": snapshot_sha,
                     "history_url": f"https://watch.example.org/sources/loud/clauses/{change.key}"}
                    for change in session.execute(select(ChangeEvent).where(ChangeEvent.version_id == version.id)
                                                  .order_by(ChangeEvent.id)).scalars()]
    queued = rows(loud)
    assert [row.event_id for row in queued] == [event["id"] for event in recorded]
    assert [row.payload for row in queued] == recorded
