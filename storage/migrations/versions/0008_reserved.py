"""sources keep up: a conversation's content hash and when a later import or pull updated it

Revision ID: 0008
Revises: 0007

A reopened ticket with new messages, or a rating that arrives after it was solved, updates the stored
conversation (`bot/services/import_update.py`); the hash makes a re-import of unchanged content a no-op
without reading its messages. Both columns are nullable: rows imported before are hashed on their next
re-import.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("content_hash")
