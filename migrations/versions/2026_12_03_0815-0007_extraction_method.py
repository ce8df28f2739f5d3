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
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('extraction')
    with op.batch_alter_table('version', schema=None) as batch_op:
        batch_op.drop_column('extraction')
