"""thread notes, ownership, kind (owned by the Slack thread work)

Revision ID: 0010
Revises: 0009

* `gap_notes.edited_at`: a thread reply edited in Slack updates its note (a deleted reply drops it).
* `drafts.notes_folded`: how many of the gap's notes the draft was written from (the draft's footer).

A gap's owner ("I'll write this") and its kind (the select in the thread) use the existing `gaps.owner` and
`gaps.kind` columns; each change is in the audit trail.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gap_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes_folded", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("notes_folded")
    with op.batch_alter_table("gap_notes", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
