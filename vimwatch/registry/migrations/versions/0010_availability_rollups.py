"""Availability roll-ups: one row per VIM and closed UTC day, and the days rolled up.

Revision ID: 0010_availability_rollups
Revises: 0009_availability
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_availability_rollups"
down_revision = "0009_availability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "availability_days",
        sa.Column("vim_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.DateTime, primary_key=True),
        sa.Column("up_us", sa.BigInteger, nullable=False),
        sa.Column("down_us", sa.BigInteger, nullable=False),
        sa.Column("pending_us", sa.BigInteger, nullable=False),
        sa.Column("maintenance_us", sa.BigInteger, nullable=False),
        sa.Column("outages", sa.Integer, nullable=False),
        sa.Column("longest_outage_us", sa.BigInteger, nullable=False),
        sa.Column("leading_down_us", sa.BigInteger, nullable=False),
        sa.Column("trailing_down_us", sa.BigInteger, nullable=False),
        sa.Column("wholly_down", sa.Boolean, nullable=False),
    )
    op.create_index("ix_availability_days_day", "availability_days", ["day"])
    op.create_table(
        "rolled_days",
        sa.Column("day", sa.DateTime, primary_key=True),
        sa.Column("rolled_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rolled_days")
    op.drop_table("availability_days")
