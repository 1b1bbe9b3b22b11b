"""Migrations build the same schema as the models, on each backend, and are idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import is_initialized, migrate
from storage.models import Base


def test_migrations_match_the_models_and_rerun_safely(engine) -> None:  # type: ignore[no-untyped-def]
    assert not is_initialized(engine)
    migrate(engine)
    migrate(engine)  # idempotent
    assert is_initialized(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Only the search index objects that live outside the ORM models may differ.
    unexpected = [d for d in diff if "kb_fts" not in str(d) and "search_vector" not in str(d)]
    assert unexpected == []
    names = set(inspect(engine).get_table_names())
    assert {"conversations", "gaps", "articles", "article_versions", "replay_runs", "regression_cases",
            "audit_events", "job_claims", "processed_events"} <= names


def test_downgrade_to_base_and_back(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from storage.db import _alembic_config

    migrate(engine)
    command.downgrade(_alembic_config(engine), "base")
    assert "gaps" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "gaps" in inspect(engine).get_table_names()
