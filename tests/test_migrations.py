"""Migrations: upgrade head on an empty database of each backend, and no drift from the models."""

from __future__ import annotations

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
