"""Use queries: the database in, each document's answer to a use (as of a date, or over its versions) out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from monitor.clauses import Clause
from monitor.store.models import ClauseRow, SourceRow, Version
from monitor.store.history import require_source
from monitor.timestamps import iso
from monitor.uses.answer import Answer, answer_use
from monitor.uses.history import AnswerChange, answer_changes
from monitor.uses.model import Use


@dataclass(frozen=True)
class VersionClauses:
    """One version of a document with its clauses, as the answer logic reads them."""

    seq: int
    observed_at: dt.datetime
    clauses: tuple[Clause, ...]


_CLAUSE_COLUMNS = (ClauseRow.version_id, ClauseRow.key, ClauseRow.path, ClauseRow.heading, ClauseRow.text,
                   ClauseRow.categories, ClauseRow.rules, ClauseRow.features, ClauseRow.label, ClauseRow.lead)


def _readable(query: Any) -> Any:
    """Only the clauses an answer reads: watched ones, and those that may define a term (“X” means ...)."""
    return query.where(or_(cast(ClauseRow.categories, String) != "[]", ClauseRow.text.like("%mean%"),
                           ClauseRow.text.like("%refers to%")))


def _clause(row: Any) -> Clause:
    return Clause(key=row.key, path=row.path or "", heading=row.heading or "", text=row.text,
                  categories=tuple(row.categories or ()), rules=tuple(row.rules or ()),
                  features=dict(row.features or {}), label=row.label or "", lead=row.lead or "")


def version_clauses(session: Session, version_id: int, seq: int, observed_at: dt.datetime) -> VersionClauses:
    """The clauses of one version that its answers read, in document order."""
    rows = session.execute(_readable(select(*_CLAUSE_COLUMNS).where(ClauseRow.version_id == version_id))
                           .order_by(ClauseRow.position))
    return VersionClauses(seq, observed_at, tuple(_clause(row) for row in rows))


def versions_clauses(session: Session, versions: list[Any]) -> list[VersionClauses]:
    """`version_clauses` for many versions (rows with id, seq, observed_at) in one query."""
    by_version: dict[int, list[Clause]] = {version.id: [] for version in versions}
    if versions:
        rows = session.execute(_readable(select(*_CLAUSE_COLUMNS).where(ClauseRow.version_id.in_(list(by_version))))
                               .order_by(ClauseRow.version_id, ClauseRow.position))
        for row in rows:
            by_version[row.version_id].append(_clause(row))
    return [VersionClauses(version.seq, version.observed_at, tuple(by_version[version.id])) for version in versions]


def _sources(session: Session, source_id: str | None, provider: str | None) -> list[SourceRow]:
    if source_id:
        return [require_source(session, source_id)]
    query = select(SourceRow).order_by(SourceRow.provider, SourceRow.title, SourceRow.id)
    rows = list(session.execute(query).scalars())
    if provider:
        rows = [row for row in rows if row.provider.casefold() == provider.casefold()]
    return rows


def answer_payload(source: SourceRow, version: VersionClauses | None, answer: Answer) -> dict[str, Any]:
    """One document's answer in the JSON shape `can --json` prints and the API returns."""
    return {
        "source": source.id, "provider": source.provider, "title": source.title, "answer": answer.answer,
        "version": version.seq if version else None,
        "observed_at": iso(version.observed_at) if version else None,
        "clauses": [clause.as_dict() for clause in answer.clauses],
        "conditions": list(answer.conditions),
        "reason": answer.reason,
    }


def answers_as_of(session: Session, use: Use, at: dt.datetime | None = None, source_id: str | None = None,
                  provider: str | None = None) -> list[dict[str, Any]]:
    """Every document's answer to `use` from the version in force at `at` (the newest when None).

    Documents with no version yet on that date are left out.
    """
    out = []
    for source in _sources(session, source_id, provider):
        query = select(Version.id, Version.seq, Version.observed_at).where(Version.source_id == source.id)
        if at is not None:
            query = query.where(Version.observed_at <= at)
        row = session.execute(query.order_by(Version.seq.desc()).limit(1)).one_or_none()
        if row is None:
            continue
        version = version_clauses(session, row.id, row.seq, row.observed_at)
        out.append(answer_payload(source, version, answer_use(use, version.clauses, source.provider)))
    return out


def answer_history(session: Session, use: Use, source_id: str | None = None, provider: str | None = None,
                   ) -> list[dict[str, Any]]:
    """Per document, the versions at which its answer to `use` changed (the first version counts as one)."""
    out = []
    for source in _sources(session, source_id, provider):
        rows = session.execute(select(Version.id, Version.seq, Version.observed_at)
                               .where(Version.source_id == source.id, Version.technical.is_(False))
                               .order_by(Version.seq)).all()
        versions = versions_clauses(session, list(rows))
        if not versions:
            continue
        changes = answer_changes(use, versions, source.provider)
        out.append({"source": source.id, "provider": source.provider, "title": source.title,
                    "changes": [change_payload(change) for change in changes]})
    return out


def change_payload(change: AnswerChange) -> dict[str, Any]:
    return {"version": change.seq, "observed_at": iso(change.observed_at), "answer": change.answer.answer,
            "previous": change.previous, "clauses": [clause.as_dict() for clause in change.answer.clauses],
            "conditions": list(change.answer.conditions), "reason": change.answer.reason}


def previous_version(session: Session, source_id: str, seq: int) -> VersionClauses | None:
    """The newest non-technical version before `seq` (what a new version's answer is compared with)."""
    row = session.execute(select(Version.id, Version.seq, Version.observed_at)
                          .where(Version.source_id == source_id, Version.seq < seq, Version.technical.is_(False))
                          .order_by(Version.seq.desc()).limit(1)).one_or_none()
    return version_clauses(session, row.id, row.seq, row.observed_at) if row else None
