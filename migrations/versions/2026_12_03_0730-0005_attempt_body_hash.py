"""fetch attempt body hash: an unchanged capture keeps its body's SHA-256 on the attempt, not a snapshot

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_sha256', sa.String(length=64), nullable=True))
        batch_op.drop_index('ix_fetch_attempt_source_id')
        batch_op.create_index('ix_fetch_attempt_source_id_id', ['source_id', 'id'], unique=False)
    # Attempts recorded before kept their body as a snapshot: its hash is theirs. Snapshots stay as they are.
    op.execute("UPDATE fetch_attempt SET body_sha256 = (SELECT snapshot.sha256 FROM snapshot "
               "WHERE snapshot.id = fetch_attempt.snapshot_id) WHERE snapshot_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_fetch_attempt_source_id_id')
        batch_op.create_index('ix_fetch_attempt_source_id', ['source_id'], unique=False)
        batch_op.drop_column('body_sha256')
