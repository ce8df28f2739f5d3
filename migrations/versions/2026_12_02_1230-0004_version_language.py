"""version language: the language most of each version's text is in

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Versions recorded before keep NULL: a new version is compared with one of unknown language as before.
    with op.batch_alter_table('version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode copies the table and drops the old one, which the clauses and events referring to a
        # version forbid. SQLite 3.35 and later drop a column in place (an older one refuses).
        op.execute('ALTER TABLE version DROP COLUMN language')
        return
    with op.batch_alter_table('version', schema=None) as batch_op:
        batch_op.drop_column('language')
