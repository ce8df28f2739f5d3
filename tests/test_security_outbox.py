"""Two deliverers on one outbox with a slow receiver (issue 18, item 6): every notification is delivered exactly
once, on SQLite and PostgreSQL. Each deliverer is a thread with its own engine, as a second process would be."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select

from hostile import SlowReceiver
from monitor.alerts.config import parse_alerts_config
from monitor.alerts.outbox import deliver_outbox
from monitor.pipeline import Recorder
from monitor.store import Notification, connect, init_database, session_scope
from test_outbox import A, B
from test_pipeline import fetched, source

MESSAGES = 12
DELAY = 0.3  # seconds the receiver takes over each delivery
LEASE = 1.0  # seconds: a pass over MESSAGES messages takes several leases


def config(receiver: SlowReceiver, tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_alerts_config(tmp_path / "clausewatch.yaml", f"""\
channels:
  hook: {{kind: webhook, url: "{receiver.url}", retries: 0, timeout: 10}}
outbox:
  lease: {LEASE}
  backoff: 0
""", {})


def queue_messages(db_url: str, alerts) -> None:  # type: ignore[no-untyped-def]
    """Two real clause-change notifications, copied until there are MESSAGES pending immediate messages."""
    engine = connect(db_url)
    init_database(engine)
    recorder = Recorder(engine, alerts=alerts)
    recorder.record(source(), fetched(A, 0))
    recorder.record(source(), fetched(B, 1))
    with session_scope(engine) as session:
        real = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
        assert len(real) == 2
        for number in range(MESSAGES - len(real)):
            model = real[number % 2]
            session.add(Notification(key=f"cw-copy-{number}", channel=model.channel, type=model.type,
                                     event_id=model.event_id, source_id=model.source_id, payload=model.payload,
                                     delivery="immediate", status="pending", attempts=0,
                                     created_at=model.created_at, next_attempt_at=model.next_attempt_at))


def test_two_deliverers_and_a_slow_receiver_deliver_each_message_once(db_url: str, tmp_path: Path) -> None:
    with SlowReceiver(DELAY) as receiver:
        alerts = config(receiver, tmp_path)
        queue_messages(db_url, alerts)
        reports = []

        def deliverer(start_after: float) -> None:
            time.sleep(start_after)
            reports.append(deliver_outbox(connect(db_url), alerts))

        # The second starts more than a lease after the first, while the first is still busy.
        threads = [threading.Thread(target=deliverer, args=(wait,)) for wait in (0.0, 1.5 * LEASE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(not report.errors for report in reports), reports
        assert receiver.duplicates() == {}
        assert len(receiver.deliveries) == MESSAGES
        assert sum(report.sent for report in reports) == MESSAGES
    with session_scope(connect(db_url)) as session:
        statuses = session.execute(select(Notification.status)).scalars().all()
    assert statuses == ["sent"] * MESSAGES


def test_a_delivery_slower_than_the_lease_is_not_taken_over(db_url: str, tmp_path: Path) -> None:
    # One message takes three leases to deliver: its lease is renewed meanwhile, so a second deliverer
    # that looks while it is on its way leaves it alone.
    with SlowReceiver(3 * LEASE) as receiver:
        alerts = config(receiver, tmp_path)
        queue_messages(db_url, alerts)
        with session_scope(connect(db_url)) as session:
            rows = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
            for row in rows[1:]:
                session.delete(row)
        first = threading.Thread(target=lambda: deliver_outbox(connect(db_url), alerts))
        first.start()
        time.sleep(2 * LEASE)
        second = deliver_outbox(connect(db_url), alerts)
        first.join(timeout=60)
        assert second.sent == 0
        assert sum(receiver.deliveries.values()) == 1
