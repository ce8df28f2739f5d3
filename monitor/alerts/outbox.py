"""The outbox: recorded events and notices in, notification rows out; then due rows in, deliveries out.

Rows are written in the transaction that stores the events (so an event is never without its
notifications), and sent after the commit. Each row has a key that is stable per event (or notice) and
channel; it travels as the webhook's `X-ClauseWatch-Id`, the email's Message-ID and the Atom entry id.
A row is claimed (`sending`) before its message goes out and marked `sent` after, so two processes never
send it both; a failed delivery is retried on later runs with exponential backoff until
`outbox.max_attempts`, then left `failed` for `clausewatch alerts --retry`. A process that dies between
sending and marking leaves the row `sending`: after `outbox.lease` it is sent again with the same id,
which the receiver can recognise.

Leases run on the database's clock, read at the moment of claiming (not at the start of a pass, and
never the machine's own clock, which may differ between deliverers), and a process renews its lease
every third of `outbox.lease` while a message is on its way, so a slow receiver never makes a claim
look abandoned to another process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.alerts.base import Message, item_identity, message_id, registered_notifiers
from monitor.alerts.config import AlertsConfig
from monitor.store import Notification, session_scope
from monitor.store.payloads import EventPayload, RecordedVersion
from monitor.timestamps import iso

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
IMMEDIATE, RUN, DAY = "immediate", "run", "day"
CLAUSE_CHANGE = "clause_change"
_ERROR_LIMIT = 1000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ------------------------------------------------------------------------------------------ writing


def event_item(config: AlertsConfig | None, event: EventPayload, snapshot_sha256: str | None) -> dict:
    """What a notification carries about an event: its JSON form plus the history link and the evidence."""
    history_url = config.history_url(event["source"], event["key"]) if config else None
    return {**event, "history_url": history_url, "snapshot_sha256": snapshot_sha256}


def queue_notifications(session: Session, config: AlertsConfig, outcome: Any,
                        recorded: RecordedVersion | None = None) -> list[Notification]:
    """Add the notification rows for one recorded capture (a `CaptureOutcome`) to the caller's transaction;
    `recorded` is the new version it made, as the recorder wrote it (None if it made none).

    Events come from the new version, unless it is a revert or a technical version; every direction a
    route subscribes to counts, not only the alerting ones. Notices go to the operators route.
    """
    rows: list[Notification] = []
    now = _now()
    if recorded is not None and outcome.revert_of_seq is None and not recorded.version.technical and config.routes:
        for event in recorded.events:
            item = event_item(config, event, recorded.snapshot_sha256)
            for channel, delivery in config.routes_for_event(item).items():
                rows.append(_row(channel, CLAUSE_CHANGE, item, delivery, now, event_id=event["id"]))
        # routes that name uses: a message when this version changes one of their answers
        # (the uses engine loads only when a route names uses and a version is new)
        from monitor.alerts.answers import ANSWER_CHANGE, answer_change_items

        for channel, delivery, item in answer_change_items(session, config, recorded.source, recorded.version,
                                                           recorded.snapshot_sha256):
            rows.append(_row(channel, ANSWER_CHANGE, item, delivery, now))
    for notice in outcome.notices:
        for channel, delivery in config.routes_for_notice(notice).items():
            rows.append(_row(channel, notice["type"], notice, delivery, now))
    session.add_all(rows)
    session.flush()
    return rows


def _row(channel: str, kind: str, item: dict, delivery: str, now: dt.datetime,
         event_id: int | None = None) -> Notification:
    return Notification(key=message_id(channel, item_identity(item)), channel=channel, type=kind,
                        event_id=event_id, source_id=item["source"], payload=item, delivery=delivery,
                        status=PENDING, attempts=0, created_at=now, next_attempt_at=now)


# ------------------------------------------------------------------------------------------ sending


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    sent: int = 0  # notification rows delivered
    failed: int = 0  # notification rows whose delivery failed this time
    messages: int = 0  # messages sent (a digest carries several rows)
    errors: list[str] = field(default_factory=list)  # "channel: error", secrets masked

    def line(self) -> str:
        return f"sent {self.sent}, failed {self.failed}"


def deliver_outbox(engine: Engine, config: AlertsConfig, *, now: dt.datetime | None = None,
                   retry: bool = False, channels: Iterable[str] | None = None) -> DeliveryReport:
    """Send every notification that is due; record what came of each.

    Due: pending rows; failed rows whose backoff has passed (`retry`: every failed row, even those that
    reached `max_attempts`); rows left `sending` by a process that died. A digest per run goes out at
    every pass, a digest per day once the (UTC) day is over. After a channel fails, its other messages
    wait for the next pass, so a channel that is down costs one timeout per run, not one per alert.
    """
    now = now or _now()
    report = DeliveryReport()
    wanted = set(channels) if channels is not None else None
    with session_scope(engine) as session:
        rows = session.execute(
            select(Notification).where(_due(now, config, retry)).order_by(Notification.id)
        ).scalars().all()
    down: set[str] = set()
    unknown: set[str] = set()
    for channel, batch, group in _messages(rows, now, _channels_by_version(config)):
        if wanted is not None and channel not in wanted:
            continue
        if channel not in config.channels:
            if channel not in unknown:
                unknown.add(channel)
                report.errors.append(f"{channel}: no such channel in {config.path} "
                                     f"({sum(1 for row in rows if row.channel == channel)} notifications wait)")
            continue
        if channel in down:
            continue
        if not _claim(engine, config, group, batch, now, retry):
            continue  # another process is sending it
        message = Message(id=batch or group[0].key, items=tuple(row.payload for row in group),
                          digest=any(row.delivery != IMMEDIATE for row in group), channel=channel)
        try:
            with _lease_kept(engine, config, group):
                config.notifier(channel).deliver(message)
        except Exception as error:  # any channel failure is recorded, never raised: the others still go out
            text = config.mask(f"{type(error).__name__}: {error}" if not str(error) else str(error))
            _mark_failed(engine, config, group, text, now)
            report.failed += len(group)
            report.errors.append(f"{channel}: {text}")
            down.add(channel)
            log.info("alert channel %s failed: %s", channel, text)
            continue
        _mark_sent(engine, group)
        report.sent += len(group)
        report.messages += 1
    return report


def _due(now: dt.datetime, config: AlertsConfig, retry: bool, clock: dt.datetime | None = None) -> Any:
    """Rows to send at `now`; a `sending` row is due when its lease ran out by the database's `clock`."""
    stale = and_(Notification.status == SENDING, Notification.claimed_at < (clock or now) - config.outbox.lease)
    if retry:
        return or_(Notification.status.in_((PENDING, FAILED)), stale)
    return or_(Notification.status == PENDING,
               and_(Notification.status == FAILED, Notification.next_attempt_at.is_not(None),
                    Notification.next_attempt_at <= now),
               stale)


def _channels_by_version(config: AlertsConfig) -> set[str]:
    """The channels whose clause changes go out one message per version (email)."""
    return {name for name, channel in config.channels.items()
            if getattr(registered_notifiers().get(channel.kind), "one_message_per_version", False)}


def _messages(rows: list[Notification], now: dt.datetime,
              by_version: Collection[str] = ()) -> list[tuple[str, str | None, list[Notification]]]:
    """Rows into messages: (channel, batch id or None, rows), oldest first. A batch is a digest, or the
    immediate clause changes of one version on a channel of `by_version`."""
    immediate: list[tuple[str, str | None, list[Notification]]] = []
    groups: dict[tuple[str, str], list[Notification]] = {}
    for row in rows:
        if row.batch:  # already went out (or tried to) in this batch: keep its id
            group = f"batch/{row.batch}"
        elif row.delivery == IMMEDIATE and row.channel in by_version and row.type == CLAUSE_CHANGE:
            group = f"version/{row.source_id}/{(row.payload or {}).get('version')}"
        elif row.delivery == IMMEDIATE:
            immediate.append((row.channel, None, [row]))
            continue
        elif row.delivery == DAY:
            day = row.created_at.astimezone(dt.timezone.utc).date()
            if day >= now.astimezone(dt.timezone.utc).date():
                continue  # the day is not over
            group = f"day/{day.isoformat()}"
        else:
            group = "run"
        groups.setdefault((row.channel, group), []).append(row)
    messages = list(immediate)
    for (channel, group), members in groups.items():
        if group.startswith("version/") and len(members) == 1:  # one change: its own message, as elsewhere
            messages.append((channel, None, members))
            continue
        batch = members[0].batch or message_id(channel, f"digest/{group}/" + ",".join(row.key for row in members))
        messages.append((channel, batch, members))
    messages.sort(key=lambda message: min(row.id for row in message[2]))
    return messages


def _claim(engine: Engine, config: AlertsConfig, rows: list[Notification], batch: str | None, now: dt.datetime,
           retry: bool) -> bool:
    """Mark the rows `sending` if nobody else has; all or none."""
    ids = [row.id for row in rows]
    with session_scope(engine) as session:
        clock = database_clock(session)
        values: dict[str, Any] = {"status": SENDING, "claimed_at": clock}
        if batch is not None:
            values["batch"] = batch
        claimed = session.execute(
            update(Notification).where(Notification.id.in_(ids), _due(now, config, retry, clock)).values(**values)
        ).rowcount
        if claimed != len(ids):
            session.rollback()
            return False
    return True


def database_clock(session: Session) -> dt.datetime:
    """The database server's time now (UTC): the one clock every deliverer shares."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(func.clock_timestamp())).scalar_one().astimezone(dt.timezone.utc)
    text = session.execute(select(func.strftime("%Y-%m-%d %H:%M:%f", "now"))).scalar_one()
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


@contextlib.contextmanager
def _lease_kept(engine: Engine, config: AlertsConfig, rows: list[Notification]) -> Iterator[None]:
    """Renew the claim on `rows` every third of the lease until the block ends (a slow delivery)."""
    ids = [row.id for row in rows]
    interval = max(config.outbox.lease.total_seconds() / 3, 0.05)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(interval):
            try:
                with session_scope(engine) as session:
                    session.execute(update(Notification).where(Notification.id.in_(ids),
                                                               Notification.status == SENDING)
                                    .values(claimed_at=database_clock(session)))
            except Exception as error:  # the delivery goes on; at worst the lease runs out
                log.warning("could not renew the outbox lease of %d notifications: %s", len(ids), error)

    keeper = threading.Thread(target=renew, name="outbox-lease", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()


def _mark_sent(engine: Engine, rows: list[Notification]) -> None:
    with session_scope(engine) as session:
        session.execute(update(Notification).where(Notification.id.in_([row.id for row in rows])).values(
            status=SENT, sent_at=_now(), attempts=Notification.attempts + 1, last_error=None, claimed_at=None,
            next_attempt_at=None))


def _mark_failed(engine: Engine, config: AlertsConfig, rows: list[Notification], error: str,
                 now: dt.datetime) -> None:
    with session_scope(engine) as session:
        for row in rows:
            stored = session.get(Notification, row.id)
            stored.attempts += 1
            stored.status = FAILED
            stored.last_error = error[:_ERROR_LIMIT]
            stored.claimed_at = None
            stored.next_attempt_at = (None if stored.attempts >= config.outbox.max_attempts
                                      else now + backoff(config, stored.attempts))


def backoff(config: AlertsConfig, attempts: int) -> dt.timedelta:
    """The wait before the next try after `attempts` failures: doubled each time, capped."""
    settings = config.outbox
    # In float seconds: after many failures the doubled wait is past what a timedelta can hold.
    doubled = settings.backoff.total_seconds() * 2.0 ** min(attempts - 1, 1000)
    return dt.timedelta(seconds=min(doubled, settings.backoff_max.total_seconds()))


# ------------------------------------------------------------------------------------------ reading


def list_notifications(session: Session, *, pending: bool = False, channel: str | None = None,
                       limit: int = 100) -> list[dict]:
    """Notifications newest first, as `clausewatch alerts` shows them (`pending`: not yet sent)."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if pending:
        query = query.where(Notification.status != SENT)
    if channel:
        query = query.where(Notification.channel == channel)
    return [notification_row(row) for row in session.execute(query).scalars()]


def notification_row(row: Notification) -> dict:
    item = row.payload or {}
    return {
        "id": row.id, "key": row.key, "channel": row.channel, "type": row.type, "source": row.source_id,
        "clause": item.get("path") or item.get("key") or "", "direction": item.get("direction", ""),
        "delivery": row.delivery, "status": row.status, "attempts": row.attempts,
        "last_error": row.last_error, "created_at": _iso(row.created_at),
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == FAILED else None,
        "sent_at": _iso(row.sent_at),
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return iso(moment) if moment else None
