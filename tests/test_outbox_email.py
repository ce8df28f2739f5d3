"""Email per version, on SQLite and PostgreSQL: the clause changes one new version made go to an email route
as one message with each clause's before and after; a webhook still gets one message per change."""

from __future__ import annotations

from pathlib import Path

from monitor.alerts.config import AlertsConfig
from monitor.alerts.outbox import deliver_outbox
from test_alerts import SmtpSink
from test_outbox import A, B, C, Receiver, config_for, receiver, recorder, rows  # noqa: F401 (fixture)
from test_pipeline import fetched, source


def email_and_hook(tmp_path: Path, sink_port: int, receiver: Receiver) -> AlertsConfig:
    return config_for(tmp_path, f"""\
channels:
  legal:
    kind: email
    host: 127.0.0.1
    port: {sink_port}
    security: none
    from: alerts@example.org
    to: legal@example.org
    timeout: 5
  hook: {{kind: webhook, url: "{receiver.url()}", secret: "${{CW_SECRET}}", retries: 0}}
outbox:
  backoff: 0
""")


def test_one_version_changing_two_clauses_is_one_email_and_two_webhooks(db_url: str, receiver: Receiver,
                                                                          tmp_path: Path) -> None:
    sink = SmtpSink()
    try:
        rec = recorder(db_url, email_and_hook(tmp_path, sink.port, receiver))
        rec.record(source(), fetched(A, 0))
        outcome = rec.record(source(), fetched(B, 1))
        assert len(outcome.events) == 2
        report = deliver_outbox(rec.engine, rec.alerts)
    finally:
        sink.stop()
    assert report.errors == [] and report.sent == 4 and report.messages == 3
    assert len(sink.messages) == 1 and len(receiver.received) == 2
    email = sink.messages[0]
    assert email["Subject"] == ("[ClauseWatch] Example · Terms of Use, version 2: 2 clause changes "
                                "(2 tightened)")
    text = email.get_body(("plain",)).get_content()
    for event in outcome.events:  # each clause with its before and after
        assert event["before"] in text and event["after"] in text
    assert text.count("Before:") == 2 and text.count("After:") == 2


def test_a_failed_version_email_is_sent_again_as_the_same_message(db_url: str, receiver: Receiver,
                                                                   tmp_path: Path) -> None:
    sink = SmtpSink()
    config = email_and_hook(tmp_path, sink.port, receiver)
    sink.stop()  # the mail server is down
    rec = recorder(db_url, config)
    rec.record(source(), fetched(A, 0))
    rec.record(source(), fetched(B, 1))
    first = deliver_outbox(rec.engine, config, channels=["legal"])
    assert first.failed == 2 and first.messages == 0
    batches = {row.batch for row in rows(rec) if row.channel == "legal"}
    assert len(batches) == 1 and None not in batches  # both rows, one message id
    sink = SmtpSink()
    try:
        config.channels["legal"].settings.port = sink.port
        config._notifiers.clear()
        again = deliver_outbox(rec.engine, config, channels=["legal"], retry=True)
    finally:
        sink.stop()
    assert again.sent == 2 and again.messages == 1 and len(sink.messages) == 1
    assert sink.messages[0]["X-ClauseWatch-Id"] == batches.pop()


def test_each_version_is_its_own_email(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    sink = SmtpSink()
    try:
        rec = recorder(db_url, email_and_hook(tmp_path, sink.port, receiver))
        for minute, text in enumerate([A, B, C]):
            rec.record(source(), fetched(text, minute))
        assert deliver_outbox(rec.engine, rec.alerts).errors == []
    finally:
        sink.stop()
    # version 2: two clauses tightened, one email; version 3: one clause loosened (not routed by default)
    assert len(sink.messages) == 1
