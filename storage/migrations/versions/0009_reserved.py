"""help-centre sync: synced articles keep their source, locale and external revision; drafts their base

Revision ID: 0009
Revises: 0008

* `articles.external_source` (zendesk, intercom, markdown), `articles.locale` (one article per locale),
  `articles.external_revision` (the external updated_at, or a hash, last seen) and `articles.synced_at`;
  indexed on (external_source, external_id) to find a synced article again.
* `drafts.base_version`: the version of the target article an update draft started from (the base of the
  three-way merge with the help centre's current text at publish).
Sync cursors live in the existing `source_cursors` table (names `kb-sync:<source>`).
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("external_source", sa.String(32), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(32), nullable=True))
        batch.add_column(sa.Column("external_revision", sa.String(64), nullable=True))
        batch.add_column(sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_articles_external_source", "articles", ["external_source", "external_id"])
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("base_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("base_version")
    op.drop_index("ix_articles_external_source", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("synced_at")
        batch.drop_column("external_revision")
        batch.drop_column("locale")
        batch.drop_column("external_source")
