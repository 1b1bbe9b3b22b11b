"""model calls: one row per remote model call (task, model, tokens, latency) for cost accounting

Revision ID: 0006
Revises: 0005

Written by `bot/services/costs.py` for every call that leaves through `bot/llm/remote.py`: no prompt, no
output, no user id, only what the call cost.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ok", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_model_calls_at", "model_calls", ["at"])


def downgrade() -> None:
    op.drop_index("ix_model_calls_at", table_name="model_calls")
    op.drop_table("model_calls")
