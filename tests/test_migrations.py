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


def schema_of(engine) -> dict:  # type: ignore[no-untyped-def]
    """Every table's columns, keys, indexes and constraints, as the database itself describes them."""
    inspector = inspect(engine)
    described = {}
    for table in sorted(inspector.get_table_names()):
        described[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                              for c in inspector.get_columns(table)),
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": sorted(map(repr, inspector.get_foreign_keys(table))),
            "indexes": sorted(map(repr, inspector.get_indexes(table))),
            "unique": sorted(map(repr, inspector.get_unique_constraints(table))),
            "checks": sorted(map(repr, inspector.get_check_constraints(table))),
        }
    return described


def test_a_new_database_gets_the_schema_the_migrations_build(db_url: str) -> None:
    from sqlalchemy import text

    from monitor.store.db import HEAD_REVISION, create_schema

    engine = connect(db_url)
    init_database(engine)
    migrated = schema_of(engine)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE alembic_version"))
    assert inspect(engine).get_table_names() == []

    create_schema(engine)

    assert schema_of(engine) == migrated
    assert current_revision(engine) == HEAD_REVISION


def test_a_command_on_a_new_database_creates_it_without_alembic(db_url: str) -> None:
    import subprocess
    import sys

    program = ("import sys; from monitor.store import connect; from monitor.store.db import ensure_database; "
               f"ensure_database(connect({db_url!r})); print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert current_revision(connect(db_url)) == head_revision(connect(db_url))


def test_a_schema_another_command_created_meanwhile_is_taken(db_url: str) -> None:
    from monitor.store.db import _create_schema_unless_another_did, create_schema

    engine = connect(db_url)
    create_schema(engine)
    _create_schema_unless_another_did(engine)  # its CREATE TABLE fails: the schema is there, at the head
    assert current_revision(engine) == head_revision(engine)
