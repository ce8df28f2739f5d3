"""snapshot origin: where an imported body came from; fetch attempts indexed by time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Fetched bodies keep NULL: their origin is the source's URL.
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.Text(), nullable=True))
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_attempt_started_at'), ['started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_attempt_started_at'))
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode copies the table and drops the old one, which the attempts referring to a snapshot
        # forbid. SQLite 3.35 and later drop a column in place (an older one refuses).
        op.execute('ALTER TABLE snapshot DROP COLUMN origin')
        return
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.drop_column('origin')
