"""Availability: events indexed by VIM and time, and maintenance windows.

Revision ID: 0009_availability
Revises: 0008_vim_checks
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_availability"
down_revision = "0008_vim_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_resource_time", "events", ["resource_id", "timestamp"])
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("vim_ids", sa.JSON, nullable=False),
        sa.Column("target_project", sa.String(64), nullable=True),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("ends_at", sa.DateTime, nullable=False),
        sa.Column("weekly", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_maintenance_windows_project_id", "maintenance_windows", ["project_id"])
    op.create_index("ix_maintenance_windows_deleted_at", "maintenance_windows", ["deleted_at"])


def downgrade() -> None:
    op.drop_table("maintenance_windows")
    op.drop_index("ix_events_timestamp", table_name="events")
    op.drop_index("ix_events_resource_time", table_name="events")
