"""Store models: one DeclarativeBase, typed columns, a naming convention that is the same on every dialect."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every dialect (SQLite keeps no offset, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


class Sha256Digest(TypeDecorator):
    """A SHA-256 stored as its 32 bytes and read as its 64 hex digits: half the size in every row and index."""

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        return bytes.fromhex(value) if value is not None else None

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        return bytes(value).hex() if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SourceRow(Base):
    """A watched document, as last loaded from sources.yaml or created by `import`."""

    __tablename__ = "source"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    provider: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="terms")
    format: Mapped[str | None] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    # how the last capture's text was found ("selectors" | "automatic"): a switch sends one notice
    extraction: Mapped[str | None] = mapped_column(String(20))
    # A page of this fingerprint gives the latest text (monitor/extract/fingerprint.py, `fingerprint_key`)
    text_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class FetchAttempt(Base):
    """Every try to get a source, whatever came of it.

    The body itself is kept (as a `Snapshot`) only when it is evidence: it made a version, or it is the first
    failed capture of a failing streak. Otherwise the attempt keeps only its SHA-256 and size (`bytes`).
    """

    __tablename__ = "fetch_attempt"
    # a source's newest attempts are read by id (the fast path for a body seen before, health, prune)
    __table_args__ = (Index("ix_fetch_attempt_source_id_id", "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    # SHA-256 of the body as fetched (None when there was none); `snapshot_id` is set only when it is kept
    body_sha256: Mapped[str | None] = mapped_column(Sha256Digest)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))


class Snapshot(Base):
    """One raw body of a source kept as evidence, compressed, with when it was first and last seen."""

    __tablename__ = "snapshot"
    __table_args__ = (UniqueConstraint("source_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed
    # where an imported body came from, as a reader can cite it (dataset and file, or repository, commit and
    # path); None for a fetched body, whose origin is the source's URL
    origin: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Version(Base):
    """A distinct normalised text of a source; `seq` counts from 1 per source."""

    __tablename__ = "version"
    __table_args__ = (UniqueConstraint("source_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64), index=True)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    # a version equal to one of the source's recent versions (A/B pages, region flicker)
    revert_of_seq: Mapped[int | None] = mapped_column(Integer)
    # made by re-extraction after a selector or code change: recorded, never alerted
    technical: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO 639-1 code of the language most of the text is in (None: too little text, or recorded before 0004);
    # a version is compared with the last version in its own language
    language: Mapped[str | None] = mapped_column(String(8))
    # how the text was found in the page: "selectors", "automatic" (no selector, or none matched), None for
    # other formats and versions recorded before 0005
    extraction: Mapped[str | None] = mapped_column(String(20))

    clauses: Mapped[list[ClauseRow]] = relationship(
        back_populates="version", order_by="ClauseRow.position", cascade="all, delete-orphan"
    )


class ClauseRow(Base):
    """One clause of one version, with its stable key and classification."""

    __tablename__ = "clause"
    __table_args__ = (Index("ix_clause_version_key", "version_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("version.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str] = mapped_column(Text, default="")  # the item's own number or letter, e.g. "(e)"
    heading: Mapped[str] = mapped_column(Text, default="")
    lead: Mapped[str] = mapped_column(Text, default="")  # the list's lead-in, e.g. "Customer will not:"
    text: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    version: Mapped[Version] = relationship(back_populates="clauses")


class ChangeEvent(Base):
    """A change to one watched clause between two versions of a source."""

    __tablename__ = "change_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("version.id", ondelete="CASCADE"), index=True)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))
    key: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    direction: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    diff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    alert: Mapped[bool] = mapped_column(Boolean, default=False)
    detected_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Notification(Base):
    """The outbox: one message to one alert channel, written with the event it announces, sent after the commit.

    `key` is stable per event (or notice) and channel: it goes out as the idempotency header, the email
    Message-ID or the Atom entry id, so a retry after a crash can be recognised by the receiver.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_notification_status_channel", "status", "channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(30))  # clause_change | source_failing | source_recovered
    event_id: Mapped[int | None] = mapped_column(ForeignKey("change_event.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str | None] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")  # immediate | run | day
    batch: Mapped[str | None] = mapped_column(String(80))  # the digest message this row went out in
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class SourceSchedule(Base):
    """When a source is next due, and which worker holds it (a lease with an expiry) while fetching it.

    Written only by `clausewatch worker` (PostgreSQL). A lease whose `lease_expires_at` has passed belongs to a
    worker that died or hung: another worker may claim the source again.
    """

    __tablename__ = "source_schedule"

    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), primary_key=True)
    next_due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # the newest fetch_attempt id when the lease was taken: an attempt of this source above it means the
    # lease's work was recorded, even if its worker died before marking the source done
    claim_attempt_id: Mapped[int | None] = mapped_column(Integer)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class PrunedAttempts(Base):
    """How many fetch attempts of each outcome `prune` deleted, so the totals /metrics reports never go down."""

    __tablename__ = "pruned_attempts"

    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
