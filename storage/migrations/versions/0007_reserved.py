"""queue: results of fanned-out jobs (one regression case per `flywheel worker` job), read back by the caller

Revision ID: 0007
Revises: 0006

The work queue itself is procrastinate's schema on PostgreSQL (applied by `flywheel init`, `bot/queue/pg.py`)
and a persist-queue file beside the database on SQLite: neither is an Alembic table.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queued_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch", sa.String(64), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("batch", "item", name="uq_queued_results_batch"),
    )


def downgrade() -> None:
    op.drop_table("queued_results")
