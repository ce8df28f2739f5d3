"""The store's read API, the site's and (through `queries`) the command line's: the database in, plain dicts
out (sources, versions, snapshots, clause occurrences, events); the web layer composes pages from them and
never touches SQL."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, load_only

from monitor.errors import UsageError
from monitor.store.models import ChangeEvent, ClauseRow, FetchAttempt, Snapshot, SourceRow, Version
from monitor.store.payloads import event_payload
from monitor.timestamps import iso


class NotFound(UsageError):
    """A page asked for a source, version or clause the database does not hold."""


def version_as_of(session: Session, source_id: str, at: dt.datetime | None = None) -> Version | None:
    """The version of a source in force at `at` (the newest when None)."""
    query = select(Version).where(Version.source_id == source_id)
    if at is not None:
        query = query.where(Version.observed_at <= at)
    return session.execute(query.order_by(Version.seq.desc()).limit(1)).scalar_one_or_none()


def require_source(session: Session, source_id: str) -> SourceRow:
    row = session.get(SourceRow, source_id)
    if row is None:
        known = session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars().all()
        hint = f" (known: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''})" if known else \
            " (the database has no sources yet)"
        raise UsageError(f"no source {source_id!r} in the database{hint}")
    return row


def require_clause(session: Session, source_id: str, key: str) -> None:
    """A clause key some version of the source holds, or some event of it names; else a UsageError."""
    in_versions = select(ClauseRow.id).join(Version, Version.id == ClauseRow.version_id).where(
        Version.source_id == source_id, ClauseRow.key == key).limit(1)
    in_events = select(ChangeEvent.id).where(ChangeEvent.source_id == source_id, ChangeEvent.key == key).limit(1)
    if session.execute(in_versions).first() is None and session.execute(in_events).first() is None:
        raise UsageError(f"source {source_id!r} has no clause {key!r} (its keys: `clausewatch clauses "
                         f"{source_id} --all --json`)")


def data_stamp(session: Session) -> tuple[Any, ...]:
    """Changes whenever anything the site shows changes (a new source, version or event), for caching."""
    versions = session.execute(select(func.count(Version.id), func.max(Version.id))).one()
    events = session.execute(select(func.count(ChangeEvent.id), func.max(ChangeEvent.id))).one()
    sources = session.execute(select(func.count(SourceRow.id))).scalar_one()
    return (tuple(versions), tuple(events), sources)


def _source_payload(row: SourceRow) -> dict[str, Any]:
    return {"id": row.id, "provider": row.provider, "title": row.title, "url": row.url, "kind": row.kind}


def list_sources(session: Session) -> list[dict[str, Any]]:
    """Every source with its version count, first and last version date, and event counts by direction."""
    stats = {r.source_id: r for r in session.execute(
        select(Version.source_id, func.count(Version.id).label("versions"), func.max(Version.seq).label("latest"),
               func.min(Version.observed_at).label("first"), func.max(Version.observed_at).label("last"))
        .group_by(Version.source_id))}
    directions: dict[str, dict[str, int]] = {}
    for source_id, direction, count in session.execute(
            select(ChangeEvent.source_id, ChangeEvent.direction, func.count()).group_by(ChangeEvent.source_id,
                                                                                     ChangeEvent.direction)):
        directions.setdefault(source_id, {})[direction] = count
    out = []
    for row in session.execute(select(SourceRow).order_by(SourceRow.provider, SourceRow.title, SourceRow.id)
                               ).scalars():
        stat = stats.get(row.id)
        out.append({**_source_payload(row),
                    "versions": stat.versions if stat else 0,
                    "latest_seq": stat.latest if stat else None,
                    "first_seen": iso(stat.first) if stat else None,
                    "last_changed": iso(stat.last) if stat else None,
                    "events": directions.get(row.id, {})})
    return out


def get_source(session: Session, source_id: str) -> dict[str, Any]:
    try:
        return _source_payload(require_source(session, source_id))
    except UsageError as error:
        raise NotFound(str(error)) from None


def versions_of(session: Session, source_id: str) -> list[dict[str, Any]]:
    """A source's versions, oldest first: seq, dates, hashes, length, flags and the raw snapshot's evidence."""
    rows = session.execute(
        select(Version.id, Version.seq, Version.observed_at, Version.text_sha256, Version.revert_of_seq,
               Version.technical, Version.language, Version.extraction, func.length(Version.text).label("length"),
               Snapshot.sha256, Snapshot.size, Snapshot.content_type, Snapshot.first_seen, Snapshot.origin)
        .outerjoin(Snapshot, Snapshot.id == Version.snapshot_id)
        .where(Version.source_id == source_id).order_by(Version.seq))
    fetched = dict(session.execute(
        select(FetchAttempt.version_id, func.min(FetchAttempt.started_at))
        .where(FetchAttempt.source_id == source_id, FetchAttempt.version_id.is_not(None))
        .group_by(FetchAttempt.version_id)).all())
    out = []
    for r in rows:
        fetched_at = fetched.get(r.id) or r.first_seen or r.observed_at
        out.append({"seq": r.seq, "observed_at": iso(r.observed_at), "text_sha256": r.text_sha256,
                    "length": r.length, "revert_of": r.revert_of_seq, "technical": r.technical,
                    "language": r.language, "extraction": r.extraction,
                    "snapshot": None if r.sha256 is None else {
                        "sha256": r.sha256, "size": r.size, "content_type": r.content_type,
                        "fetched_at": iso(fetched_at), "origin": r.origin}})
    return out


def version_text(session: Session, source_id: str, seq: int) -> dict[str, Any]:
    """One version's title and normalised text."""
    row = session.execute(select(Version.seq, Version.observed_at, Version.title, Version.text)
                          .where(Version.source_id == source_id, Version.seq == seq)).one_or_none()
    if row is None:
        raise NotFound(f"source {source_id!r} has no version {seq}")
    return {"seq": row.seq, "observed_at": iso(row.observed_at), "title": row.title, "text": row.text}


def seq_as_of(session: Session, source_id: str, at: dt.datetime) -> int | None:
    """The seq of the version in force at `at`, None before the first."""
    return session.execute(select(func.max(Version.seq)).where(Version.source_id == source_id,
                                                               Version.observed_at <= at)).scalar_one()


def snapshot_of_version(session: Session, source_id: str, seq: int) -> dict[str, Any]:
    """The raw body a version was extracted from, decompressed, with its hash and content type."""
    row = session.execute(select(Snapshot.sha256, Snapshot.content_type, Snapshot.body)
                          .join(Version, Version.snapshot_id == Snapshot.id)
                          .where(Version.source_id == source_id, Version.seq == seq)).one_or_none()
    if row is None:
        raise NotFound(f"source {source_id!r} has no stored snapshot for version {seq}")
    return {"sha256": row.sha256, "content_type": row.content_type, "body": zlib.decompress(row.body)}


def events(session: Session, source_id: str | None = None, key: str | None = None,
           direction: str | None = None, newest_first: bool = False, limit: int | None = None,
           since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Clause change events with the version they belong to (and whether it is technical), of versions
    observed at `since` or later when given."""
    query = (select(ChangeEvent, SourceRow, Version)
             .join(SourceRow, SourceRow.id == ChangeEvent.source_id)
             .join(Version, Version.id == ChangeEvent.version_id)
             # not the versions' texts: an event needs its version's number and flags only
             .options(load_only(Version.seq, Version.observed_at, Version.technical, Version.revert_of_seq)))
    if source_id:
        query = query.where(ChangeEvent.source_id == source_id)
    if key:
        query = query.where(ChangeEvent.key == key)
    if direction:
        query = query.where(ChangeEvent.direction == direction)
    if since is not None:
        query = query.where(Version.observed_at >= since)
    order = (Version.observed_at.desc(), ChangeEvent.id.desc()) if newest_first else (Version.observed_at,
                                                                                      ChangeEvent.id)
    query = query.order_by(*order)
    if limit:
        query = query.limit(limit)
    out = []
    for event, source, version in session.execute(query):
        payload = event_payload(event, source, version)
        payload["technical"] = version.technical
        payload["revert_of"] = version.revert_of_seq
        out.append(payload)
    return out


def clause_occurrences(session: Session, source_id: str, key: str) -> list[dict[str, Any]]:
    """Every version of a source holding the clause `key`, oldest first, with how the clause read there."""
    rows = session.execute(
        select(Version.seq, Version.observed_at, ClauseRow.path, ClauseRow.label, ClauseRow.heading,
               ClauseRow.lead, ClauseRow.text, ClauseRow.categories, ClauseRow.rules)
        .join(Version, Version.id == ClauseRow.version_id)
        .where(Version.source_id == source_id, ClauseRow.key == key).order_by(Version.seq))
    return [{"seq": r.seq, "observed_at": iso(r.observed_at), "path": r.path, "label": r.label,
             "heading": r.heading, "lead": r.lead, "text": r.text, "categories": list(r.categories or []),
             "rules": list(r.rules or [])} for r in rows]


def clauses_of_version(session: Session, source_id: str, seq: int, watched_only: bool = True
                       ) -> list[dict[str, Any]]:
    """The clauses of one version in document order."""
    query = (select(ClauseRow.key, ClauseRow.path, ClauseRow.heading, ClauseRow.lead, ClauseRow.text,
                    ClauseRow.categories, ClauseRow.rules)
             .join(Version, Version.id == ClauseRow.version_id)
             .where(Version.source_id == source_id, Version.seq == seq))
    if watched_only:
        query = query.where(cast(ClauseRow.categories, String) != "[]")
    return [{"key": r.key, "path": r.path, "heading": r.heading, "lead": r.lead, "text": r.text,
             "categories": list(r.categories or []), "rules": list(r.rules or [])}
            for r in session.execute(query.order_by(ClauseRow.position))]


def watched_clauses_everywhere(session: Session) -> list[dict[str, Any]]:
    """Every watched clause of every version of every source (small: watched clauses are few), oldest first."""
    rows = session.execute(
        select(Version.source_id, Version.seq, Version.observed_at, ClauseRow.key, ClauseRow.path,
               ClauseRow.heading, ClauseRow.text, ClauseRow.categories)
        .join(Version, Version.id == ClauseRow.version_id)
        .where(cast(ClauseRow.categories, String) != "[]")
        .order_by(Version.source_id, Version.seq, ClauseRow.position))
    return [{"source": r.source_id, "seq": r.seq, "observed_at": iso(r.observed_at), "key": r.key,
             "path": r.path, "heading": r.heading, "text": r.text, "categories": list(r.categories or [])}
            for r in rows]


def version_dates(session: Session) -> list[dict[str, Any]]:
    """(source, seq, observed_at, technical) of every version, oldest first per source."""
    return [{"source": r.source_id, "seq": r.seq, "observed_at": iso(r.observed_at), "technical": r.technical}
            for r in session.execute(select(Version.source_id, Version.seq, Version.observed_at,
                                            Version.technical).order_by(Version.source_id, Version.seq))]


def search_clause_text(session: Session, text: str, latest_only: bool = True, limit: int = 500
                       ) -> list[dict[str, Any]]:
    """Clauses whose text contains `text` (case-insensitive), newest version first per (source, key)."""
    latest = (select(Version.source_id, func.max(Version.seq).label("seq")).group_by(Version.source_id)
              .subquery())
    query = (select(Version.source_id, Version.seq, Version.observed_at, ClauseRow.key, ClauseRow.path,
                    ClauseRow.heading, ClauseRow.text, ClauseRow.categories)
             .join(Version, Version.id == ClauseRow.version_id))
    if latest_only:
        query = query.join(latest, (latest.c.source_id == Version.source_id) & (latest.c.seq == Version.seq))
    if text:
        query = query.where(ClauseRow.text.ilike(f"%{_escape_like(text)}%", escape="\\"))
    else:
        query = query.where(cast(ClauseRow.categories, String) != "[]")
    query = query.order_by(Version.source_id, Version.seq.desc(), ClauseRow.position)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for r in session.execute(query):
        if (r.source_id, r.key, r.text) in seen:
            continue
        seen.add((r.source_id, r.key, r.text))
        out.append({"source": r.source_id, "seq": r.seq, "observed_at": iso(r.observed_at), "key": r.key,
                    "path": r.path, "heading": r.heading, "text": r.text,
                    "categories": list(r.categories or [])})
        if len(out) >= limit:
            break
    return out


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
