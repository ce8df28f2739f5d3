"""source text fingerprint: a page of this fingerprint gives the latest text (an unchanged page is not extracted)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sources start without one: their next capture is extracted, and keeps its fingerprint.
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode copies the table and drops the old one, which with foreign keys on deletes every row
        # that refers to a source. SQLite 3.35 and later drop a column in place (an older one refuses).
        op.execute('ALTER TABLE source DROP COLUMN text_fingerprint')
        return
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('text_fingerprint')
