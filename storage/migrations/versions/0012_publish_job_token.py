"""publish attempts: the queued job that claimed each one

Revision ID: 0012
Revises: 0011

A worker killed mid-publish leaves its attempt claimed; when the queue runs that same job again (procrastinate
retries a stalled worker's jobs), the job's token lets it resume the attempt at once instead of waiting out
FLYWHEEL_PUBLISH_CLAIM_TIMEOUT. Nullable: attempts from the CLI or before this version have none. Adding a
nullable column is safe while the previous version still runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publish_attempts") as batch:
        batch.add_column(sa.Column("job_token", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publish_attempts") as batch:
        batch.drop_column("job_token")
