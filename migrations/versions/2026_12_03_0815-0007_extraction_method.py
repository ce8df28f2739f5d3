"""extraction method: how each version's text was found (selectors or automatic location), and the source's last

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for what was recorded before: the method is unknown, and a first known one sends no notice.
    with op.batch_alter_table('version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extraction', sa.String(length=20), nullable=True))
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extraction', sa.String(length=20), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode copies each table and drops the old one, which with foreign keys on deletes every row
        # that refers to it (a source's attempts, versions and snapshots; a version's clauses and events).
        # SQLite 3.35 and later drop a column in place (an older one refuses).
        op.execute('ALTER TABLE source DROP COLUMN extraction')
        op.execute('ALTER TABLE version DROP COLUMN extraction')
        return
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('extraction')
    with op.batch_alter_table('version', schema=None) as batch_op:
        batch_op.drop_column('extraction')
