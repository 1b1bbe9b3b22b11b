"""reliability: one note per thread reply, prunable processed events

Revision ID: 0003
Revises: 0002

* `gap_notes(gap_id, source_ref)` unique: the same Slack reply delivered twice at once is one note
  (rows duplicated before this constraint existed are collapsed to the oldest first).
* `processed_events.received_at` indexed: old event ids are pruned by age.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Duplicates written by a race before the constraint: keep the oldest note of each (gap, reply).
    op.execute(sa.text(
        "DELETE FROM gap_notes WHERE source_ref IS NOT NULL AND id NOT IN ("
        " SELECT MIN(id) FROM gap_notes WHERE source_ref IS NOT NULL GROUP BY gap_id, source_ref)"
    ))
    with op.batch_alter_table("gap_notes", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_gap_notes_gap_id_source_ref", ["gap_id", "source_ref"])
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.create_index("ix_processed_events_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.drop_index("ix_processed_events_received_at")
    with op.batch_alter_table("gap_notes", schema=None) as batch_op:
        batch_op.drop_constraint("uq_gap_notes_gap_id_source_ref", type_="unique")
