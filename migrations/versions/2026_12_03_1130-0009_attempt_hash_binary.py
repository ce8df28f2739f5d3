"""fetch attempt body hash as 32 bytes, not 64 hex characters: an unchanged capture's row is its whole cost

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Rows converted per statement on SQLite (which has no unhex() before 3.41).
_BATCH = 5000


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE fetch_attempt ALTER COLUMN body_sha256 TYPE bytea USING decode(body_sha256, 'hex')")
        return
    _convert_sqlite(sa.LargeBinary(length=32), bytes.fromhex)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE fetch_attempt ALTER COLUMN body_sha256 TYPE varchar(64) "
                   "USING encode(body_sha256, 'hex')")
        return
    _convert_sqlite(sa.String(length=64), bytes.hex)


def _convert_sqlite(new_type: sa.types.TypeEngine, convert) -> None:  # type: ignore[no-untyped-def]
    """A new column filled from the old one in Python, then put in the old one's place."""
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_sha256_new', new_type, nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, body_sha256 FROM fetch_attempt WHERE body_sha256 IS NOT NULL")).all()
    update = sa.text("UPDATE fetch_attempt SET body_sha256_new = :value WHERE id = :id")
    for start in range(0, len(rows), _BATCH):
        connection.execute(update, [{"id": row.id, "value": convert(row.body_sha256)}
                                    for row in rows[start:start + _BATCH]])
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.drop_column('body_sha256')
        batch_op.alter_column('body_sha256_new', new_column_name='body_sha256')
