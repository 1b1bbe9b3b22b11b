"""articles: the help-centre section a synced article sits in

Revision ID: 0013
Revises: 0012

The KB sync (`bot/kb/sync.py`) keeps where a synced article lives in the team's help centre: the section's id
there (`external_section_id`: a Zendesk section, an Intercom collection) and its name (`external_section`, shown
next to the title where a person picks an article). Both nullable: articles written here, imported from a folder
or synced before this version have none until the next sync pass. Adding nullable columns is safe while the
previous version still runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("external_section_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("external_section", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("external_section")
        batch.drop_column("external_section_id")
