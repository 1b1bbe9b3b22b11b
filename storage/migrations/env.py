"""Alembic environment: the engine comes from the caller (`storage.db.migrate`) or DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from bot.settings import load_settings
        from storage.db import make_engine

        engine = make_engine(load_settings().database_url)
    return engine


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
