"""Migrations: upgrade head on an empty database of each backend, and no drift from the models."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from monitor.store import Base, connect, init_database
from monitor.store.db import current_revision, head_revision


def test_upgrade_head_creates_every_table(db_url: str) -> None:
    engine = connect(db_url)
    revision = init_database(engine)
    assert revision == head_revision(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"source", "fetch_attempt", "snapshot", "version", "clause", "change_event"} <= tables


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    init_database(engine)
    assert current_revision(engine) == head_revision(engine)


def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_head_revision_a_run_checks_without_alembic_is_alembics_head(db_url: str) -> None:
    from monitor.store.db import HEAD_REVISION, head_revision

    assert head_revision(connect(db_url)) == HEAD_REVISION


def test_a_database_behind_the_newest_revision_is_refused(db_url: str) -> None:
    import pytest
    from alembic import command

    from monitor.errors import DatabaseError
    from monitor.store.db import alembic_config, ensure_database

    engine = connect(db_url)
    command.upgrade(alembic_config(engine), "0008")
    with pytest.raises(DatabaseError, match="out of date: run `clausewatch init`"):
        ensure_database(engine)
    init_database(engine)
    ensure_database(engine)  # at the newest revision: accepted


def test_a_downgrade_and_upgrade_keep_every_recorded_row(db_url: str) -> None:
    # On SQLite, batch mode's copy of the source table dropped the old one, which with foreign keys on
    # deleted every attempt, snapshot and version of every source (the downgrades of 0007 and 0010).
    from alembic import command

    from monitor.fetch import FetchResult
    from monitor.pipeline import Recorder
    from monitor.sources import Source
    from monitor.store.db import alembic_config
    from monitor.store.import_export import row_counts

    engine = connect(db_url)
    init_database(engine)
    source = Source(id="terms", provider="P", title="T", url="https://example.com/terms", format="text")
    text = "Terms of Use\n\n" + "\n\n".join(f"{number}. You may not use Output to develop models that compete "
                                             f"with us, in any of the {number} ways listed here." for number in range(1, 20))
    outcome = Recorder(engine).record(source, FetchResult(url=source.url, outcome="ok", started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                                                 elapsed_ms=1, body=text.encode(), content_type="text/plain"))
    recorded = row_counts(engine)
    assert recorded.get("version") == 1 and recorded.get("clause", 0) > 0, outcome

    config = alembic_config(engine)
    command.downgrade(config, "0001")
    command.upgrade(config, "head")

    assert row_counts(engine) == recorded
