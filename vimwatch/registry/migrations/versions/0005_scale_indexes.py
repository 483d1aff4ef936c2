"""Indexes for a million VIMs: lease claims, API paging by creation, counts by status.

- executions (engine_id, state): a lease round finds unheld running executions without
  walking every running one (the state index alone made claiming 1M rows quadratic).
- vims (deleted_at, created_at, id): `GET /v1.0/vims?limit=&marker=` pages live VIMs by
  keyset in creation order (without deleted_at first, the planner preferred the status
  index for `deleted_at IS NULL` and sorted a million rows for every page).
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
    op.create_index("ix_vims_live_created", "vims", ["deleted_at", "created_at", "id"])
    op.create_index("ix_vims_live_status", "vims", ["deleted_at", "status"])


def downgrade() -> None:
    op.drop_index("ix_vims_live_status", table_name="vims")
    op.drop_index("ix_vims_live_created", table_name="vims")
    op.drop_index("ix_executions_engine_state", table_name="executions")
