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
