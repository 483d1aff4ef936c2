"""Indexes for a million VIMs: lease claims, API paging by creation, counts by status.

- executions (engine_id, state): a lease round finds unheld running executions without
  walking every running one (the state index alone made claiming 1M rows quadratic).
- vims (created_at, id): `GET /v1.0/vims?limit=&marker=` pages by keyset in that order.
- vims (deleted_at, status): counts of live VIMs by status from the index alone.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_engine_state", "executions", ["engine_id", "state"])
    op.create_index("ix_vims_created_id", "vims", ["created_at", "id"])
    op.create_index("ix_vims_live_status", "vims", ["deleted_at", "status"])


def downgrade() -> None:
    op.drop_index("ix_vims_live_status", table_name="vims")
    op.drop_index("ix_vims_created_id", table_name="vims")
    op.drop_index("ix_executions_engine_state", table_name="executions")
