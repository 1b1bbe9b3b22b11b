"""sampling: partial indexes over unsampled conversations (PostgreSQL ignored the composite ones)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNSAMPLED = sa.text("sampled_on IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_sample_key")
        batch_op.drop_index("ix_conversations_sample_risk")
    op.create_index("ix_conversations_sample_key", "conversations", ["sample_key"],
                    postgresql_where=UNSAMPLED, sqlite_where=UNSAMPLED)
    op.create_index("ix_conversations_sample_risk", "conversations", ["risk_score", "id"],
                    postgresql_where=UNSAMPLED, sqlite_where=UNSAMPLED)


def downgrade() -> None:
    op.drop_index("ix_conversations_sample_risk", table_name="conversations")
    op.drop_index("ix_conversations_sample_key", table_name="conversations")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_sample_key", ["sampled_on", "sample_key"], unique=False)
        batch_op.create_index("ix_conversations_sample_risk", ["sampled_on", "risk_score"], unique=False)
