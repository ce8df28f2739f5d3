"""source schedule: next due time and worker leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_schedule',
    sa.Column('source_id', sa.String(length=120), nullable=False),
    sa.Column('next_due_at', monitor.store.models.UtcDateTime(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', monitor.store.models.UtcDateTime(), nullable=True),
    sa.Column('claimed_at', monitor.store.models.UtcDateTime(), nullable=True),
    sa.Column('claim_attempt_id', sa.Integer(), nullable=True),
    sa.Column('last_success_at', monitor.store.models.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_source_schedule_source_id_source'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', name=op.f('pk_source_schedule'))
    )
    with op.batch_alter_table('source_schedule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_schedule_next_due_at'), ['next_due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('source_schedule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_schedule_next_due_at'))

    op.drop_table('source_schedule')
