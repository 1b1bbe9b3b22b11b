"""integrations: external article ids/urls and source cursors

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
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("external_url", sa.String(length=1000), nullable=True))
    op.create_table(
        "source_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_source_cursors")),
    )


def downgrade() -> None:
    op.drop_table("source_cursors")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("external_url")
        batch_op.drop_column("external_id")
