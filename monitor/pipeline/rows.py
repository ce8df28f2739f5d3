"""The store's queries and row writes the recorder builds on: newest versions, documents of known bodies,
what a new text is compared with, source rows, forgetting a history."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, func, select
from sqlalchemy.orm import Session

from monitor.analysis import compress_body
from monitor.clauses import Clause
from monitor.extract import Document
from monitor.fetch import FetchResult
from monitor.sources import Source
from monitor.store import (ChangeEvent, ClauseRow, FetchAttempt, Notification, Snapshot, SourceRow, Version,
                           session_scope)
from monitor.pipeline.capture import LatestVersion, _sha256


# Each source's newest version: its id, seq and text hash (`source_ids` is a list); all three, because SQLite
# gives a new row the id of a deleted one (the largest rowid). Built once: building this statement costs more
# than running it.
_NEWEST_SEQ = (select(Version.source_id, func.max(Version.seq).label("seq"))
               .where(Version.source_id.in_(bindparam("source_ids", expanding=True)))
               .group_by(Version.source_id).subquery())
_NEWEST_VERSIONS = select(Version.source_id, Version.id, Version.seq, Version.text_sha256).join(
    _NEWEST_SEQ, and_(Version.source_id == _NEWEST_SEQ.c.source_id, Version.seq == _NEWEST_SEQ.c.seq))


def _forget_history(session: Session, source_row: SourceRow) -> None:
    """Delete a source's attempts, versions, clauses and change events (and the outbox rows of those events),
    keeping its row and snapshots, so that its history can be recorded again."""
    source_id = source_row.id
    events = select(ChangeEvent.id).where(ChangeEvent.source_id == source_id)
    versions = select(Version.id).where(Version.source_id == source_id)
    session.execute(delete(Notification).where(Notification.event_id.in_(events)))
    session.execute(delete(ChangeEvent).where(ChangeEvent.source_id == source_id))
    session.execute(delete(FetchAttempt).where(FetchAttempt.source_id == source_id))
    session.execute(delete(ClauseRow).where(ClauseRow.version_id.in_(versions)))
    session.execute(delete(Version).where(Version.source_id == source_id))
    source_row.failures_in_a_row = 0


def _newest_accepted_attempt(source_id: Any) -> Any:
    """The id of the source's newest attempt that gave a version (new or unchanged), as a scalar subquery;
    `source_id` is a value or a column of the enclosing query."""
    query = (select(FetchAttempt.id).where(FetchAttempt.source_id == source_id, FetchAttempt.version_id.is_not(None))
             .order_by(FetchAttempt.id.desc()).limit(1))
    return (query.correlate(SourceRow) if source_id is SourceRow.id else query).scalar_subquery()


def _document_of_snapshot(session: Session, snapshot: Snapshot) -> Document | None:
    """The document a snapshot gave when it was last accepted, so an identical body is never parsed twice."""
    row = session.execute(_DOCUMENT_OF_SNAPSHOT, {"source_id": snapshot.source_id, "snapshot_id": snapshot.id}).first()
    return Document(title=row.title, text=row.text) if row else None


# The source's attempts are read newest first by their index (source_id, id), until one with this snapshot
# gave a version: no attempt index by snapshot is needed.
_DOCUMENT_OF_SNAPSHOT = (select(Version.title, Version.text).join(FetchAttempt, FetchAttempt.version_id == Version.id)
                         .where(FetchAttempt.source_id == bindparam("source_id"),
                                FetchAttempt.snapshot_id == bindparam("snapshot_id"))
                         .order_by(FetchAttempt.id.desc()).limit(1))


def _version_key(latest: LatestVersion | None) -> tuple[int, int, str] | None:
    """What tells a cached latest version from another one: (id, seq, text hash), as `_NEWEST_VERSIONS` reads it."""
    return (latest.version_id, latest.seq, latest.text_sha256) if latest is not None else None


def _latest_versions(session: Session, version_ids: Sequence[int]) -> dict[str, LatestVersion]:
    """These versions (each a source's latest), by source id, without their clauses."""
    if not version_ids:
        return {}
    rows = session.execute(select(Version.source_id, Version.id, Version.seq, Version.text, Version.text_sha256,
                                  Version.language, Version.extraction).where(Version.id.in_(version_ids)))
    return {row.source_id: LatestVersion(*row[1:5], language=row.language, extraction=row.extraction)
            for row in rows}


def _remember_validators(source_row: SourceRow, result: FetchResult) -> None:
    if result.etag or result.last_modified:
        source_row.etag, source_row.last_modified = result.etag, result.last_modified


def clause_from_row(row: ClauseRow) -> Clause:
    return Clause(key=row.key, path=row.path, heading=row.heading, text=row.text,
                  categories=tuple(row.categories), rules=tuple(row.rules), features=dict(row.features or {}),
                  label=row.label, lead=row.lead)


def upsert_source(session: Session, source: Source) -> SourceRow:
    """Insert the source's row, or bring its settings up to date with sources.yaml."""
    row = _source_row(session, session.get(SourceRow, source.id), source)
    session.flush()
    return row


def upsert_sources(session: Session, sources: Sequence[Source]) -> list[SourceRow]:
    """`upsert_source` for many sources: one query finds the existing rows, one flush writes them all."""
    existing = {row.id: row for row in session.scalars(
        select(SourceRow).where(SourceRow.id.in_([source.id for source in sources])))}
    rows = [_source_row(session, existing.get(source.id), source) for source in sources]
    session.flush()
    return rows


def _source_row(session: Session, row: SourceRow | None, source: Source) -> SourceRow:
    if row is None:
        row = SourceRow(id=source.id, created_at=dt.datetime.now(dt.timezone.utc), failures_in_a_row=0)
        session.add(row)
    row.provider, row.title, row.url = source.provider, source.title, source.url
    row.kind, row.format, row.enabled = source.kind, source.format, source.enabled
    row.config = source.model_dump(mode="json", exclude={"id", "provider", "title", "url", "kind", "format",
                                                         "enabled"})
    return row


def _recent_versions(session: Session, source_id: str, window: int) -> tuple[tuple[int, str], ...]:
    """(seq, text hash) of the source's latest `window` versions, newest first."""
    rows = session.execute(select(Version.seq, Version.text_sha256).where(Version.source_id == source_id)
                           .order_by(Version.seq.desc()).limit(window))
    return tuple((seq, sha256) for seq, sha256 in rows)


def _page_of_version(session: Session, version_id: int) -> tuple[bytes, str | None] | None:
    """The body (uncompressed) and content type of the snapshot a version was read from, if it is kept."""
    row = session.execute(select(Snapshot.body, Snapshot.content_type)
                          .join(Version, Version.snapshot_id == Snapshot.id).where(Version.id == version_id)).first()
    return (zlib.decompress(row.body), row.content_type) if row else None


def latest_text_hashes(engine: Engine, source_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Each source's latest version's text hash, and the fingerprint its row keeps (read without a lock: a
    hint for the analysis, which the recording transaction checks again)."""
    with session_scope(engine) as session:
        fingerprints = dict(session.execute(select(SourceRow.id, SourceRow.text_fingerprint)
                                            .where(SourceRow.id.in_(list(source_ids)))).all())
        return {row.source_id: (row.text_sha256, fingerprints.get(row.source_id))
                for row in session.execute(_NEWEST_VERSIONS, {"source_ids": list(source_ids)})}


def _baseline(session: Session, source_id: str, latest: LatestVersion, language: str | None) -> LatestVersion | None:
    """The version a new one in `language` is compared with: the latest, or if that one is in another
    language, the last version in this one (None if there is none). An unknown language matches any."""
    if language is None or latest.language in (None, language):
        return latest
    row = session.execute(
        select(Version.id, Version.seq, Version.text, Version.text_sha256)
        .where(Version.source_id == source_id, Version.language == language)
        .order_by(Version.seq.desc()).limit(1)
    ).first()
    return LatestVersion(*row, language=language) if row else None


def _seen_body(session: Session, source_id: str, result: FetchResult) -> tuple[Snapshot | None, Document | None]:
    """The snapshot kept of this body, if any, and the document (title and text) the body gave when last
    accepted, if known (from its snapshot, or from the source's newest accepted capture, which keeps only
    the body's hash)."""
    return seen_bodies(session, {source_id: result})[source_id]


def _seen_again(session: Session, snapshot: Snapshot, result: FetchResult) -> tuple[Snapshot, Document | None]:
    """A kept body captured again: the snapshot's dates take the capture in, and the document it gave."""
    snapshot.first_seen = min(snapshot.first_seen, result.started_at)
    snapshot.last_seen = max(snapshot.last_seen, result.started_at)
    return snapshot, _document_of_snapshot(session, snapshot)


def seen_bodies(session: Session, results: dict[str, FetchResult]
                ) -> dict[str, tuple[Snapshot | None, Document | None]]:
    """`_seen_body` of one capture each of several sources (by source id): two queries however many, plus one
    per body already kept as a snapshot."""
    hashes = {source_id: _sha256(result.body) for source_id, result in results.items()}
    snapshots = {row.source_id: row for row in session.scalars(
        _KEPT_BODIES, {"source_ids": list(hashes), "hashes": list(set(hashes.values()))})
        if hashes[row.source_id] == row.sha256}
    seen: dict[str, tuple[Snapshot | None, Document | None]] = {}
    for source_id, snapshot in snapshots.items():
        seen[source_id] = _seen_again(session, snapshot, results[source_id])
    unkept = [source_id for source_id in hashes if source_id not in snapshots]
    documents = {row.source_id: (row.body_sha256, Document(title=row.title, text=row.text)) for row in session.execute(
        _NEWEST_BODIES, {"source_ids": unkept, "hashes": list({hashes[source_id] for source_id in unkept})})
    } if unkept else {}
    for source_id in unkept:
        body_sha256, document = documents.get(source_id, (None, None))
        seen[source_id] = (None, document if body_sha256 == hashes[source_id] else None)
    return seen


# Built once, as `_NEWEST_VERSIONS` is: the snapshots of these sources that keep one of these bodies; the
# documents of these sources' newest accepted captures, if their body is one of these.
_KEPT_BODIES = select(Snapshot).where(Snapshot.source_id.in_(bindparam("source_ids", expanding=True)),
                                      Snapshot.sha256.in_(bindparam("hashes", expanding=True)))
_NEWEST_ACCEPTED = (select(SourceRow.id.label("source_id"), _newest_accepted_attempt(SourceRow.id).label("attempt_id"))
                    .where(SourceRow.id.in_(bindparam("source_ids", expanding=True))).subquery())
_NEWEST_BODIES = (select(FetchAttempt.source_id, FetchAttempt.body_sha256, Version.title, Version.text)
                  .join(_NEWEST_ACCEPTED, FetchAttempt.id == _NEWEST_ACCEPTED.c.attempt_id)
                  .join(Version, Version.id == FetchAttempt.version_id)
                  .where(FetchAttempt.body_sha256.in_(bindparam("hashes", expanding=True))))


def _keep_snapshot(session: Session, source_id: str, result: FetchResult, compressed: bytes | None,
                   origin: str | None = None) -> Snapshot:
    """A new snapshot row holding this body (`compressed`, if the analysis has compressed it already), as the
    evidence of a version or a failure."""
    sha256 = _sha256(result.body)
    snapshot = Snapshot(
        source_id=source_id, sha256=sha256, content_type=result.content_type, size=len(result.body),
        body=compressed or compress_body(result.body), first_seen=result.started_at,
        last_seen=result.started_at, origin=origin,
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def _with_clauses(session: Session, version: LatestVersion) -> LatestVersion:
    """The version with its clauses, loaded from the database if they are not yet."""
    if version.clauses is not None:
        return version
    rows = session.execute(select(ClauseRow).where(ClauseRow.version_id == version.version_id)
                           .order_by(ClauseRow.position)).scalars()
    return replace(version, clauses=tuple(clause_from_row(row) for row in rows))
