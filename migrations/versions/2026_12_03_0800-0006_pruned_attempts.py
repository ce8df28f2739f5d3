"""pruned attempts: what `prune` deleted, by outcome, so the fetch attempt totals of /metrics never go down

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pruned_attempts',
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('outcome', name=op.f('pk_pruned_attempts')),
    )


def downgrade() -> None:
    op.drop_table('pruned_attempts')
