"""Engine leases: which engine runs each execution, until when, and which engines are alive.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch_op:
        batch_op.add_column(sa.Column("engine_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_executions_engine_id", ["engine_id"], unique=False)
    op.create_table(
        "engines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_engines_heartbeat_at", "engines", ["heartbeat_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_engines_heartbeat_at", table_name="engines")
    op.drop_table("engines")
    with op.batch_alter_table("executions") as batch_op:
        batch_op.drop_index("ix_executions_engine_id")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("engine_id")
