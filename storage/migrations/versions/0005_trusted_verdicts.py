"""trusted verdicts: exactly-once external publishing, human verdicts, replay identity

Revision ID: 0005
Revises: 0004

* `publish_attempts`: one row per publish of a gap, claimed *before* the external KB is called. Its
  `idempotency_key` is unique and sent to the external KB where the API takes one; the external receipt
  (id, URL) is stored on it in the same transaction as the article version, and a resumed publish looks it
  up by key before creating anything.
* `article_versions`: the external receipt of each version, the publish attempt, and `reverted_from` for a
  rollback (a rollback is a new version whose content is an older one's).
* `replay_runs`: which agent (name, version), model and draft produced the run; collateral regressions
  found on other turns; a human verdict beside the judge's.
* `articles.withdrawn_at`: a new article whose verdict failed is taken off the KB (not searched) until its
  next version is published.
* `gaps.verify_attempts` / `gaps.verify_after`: a publish whose verification could not run yet
  ("published, verification pending") is retried by itself with backoff.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("gap_id", sa.Integer(), sa.ForeignKey("gaps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id"), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="claimed"),
        sa.Column("publisher", sa.String(64), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("external_url", sa.String(1000), nullable=True),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id"), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),  # "publish anyway" reason
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_publish_attempts_idempotency_key"),
    )
    op.create_index("ix_publish_attempts_gap_id", "publish_attempts", ["gap_id"])
    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("external_url", sa.String(1000), nullable=True))
        batch_op.add_column(sa.Column("publish_attempt_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reverted_from", sa.Integer(), nullable=True))
    with op.batch_alter_table("replay_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_name", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("agent_version", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("model", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("collateral", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("human_verdict", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("human_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("human_by", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("human_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("articles", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("gaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verify_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("verify_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "withdrawn_at")
    with op.batch_alter_table("gaps", schema=None) as batch_op:
        batch_op.drop_column("verify_after")
        batch_op.drop_column("verify_attempts")
    with op.batch_alter_table("replay_runs", schema=None) as batch_op:
        for name in ("human_at", "human_by", "human_reason", "human_verdict", "collateral", "model",
                     "agent_version", "agent_name"):
            batch_op.drop_column(name)
    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        for name in ("reverted_from", "publish_attempt_id", "external_url", "external_id"):
            batch_op.drop_column(name)
    op.drop_index("ix_publish_attempts_gap_id", table_name="publish_attempts")
    op.drop_table("publish_attempts")
