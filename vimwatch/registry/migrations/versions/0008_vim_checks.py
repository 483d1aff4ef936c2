"""The last result of each check of a VIM with several checks (icmp and api), for its view.

Revision ID: 0008_vim_checks
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_vim_checks"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vim_checks",
        sa.Column("vim_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("latency", sa.Float(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_failure", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("vim_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("vim_checks")
