"""Engine, sessions and migrations. One unit of work per request or job: `session_scope()`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: processes starting at once on one SQLite file are not serialized
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class _NoRowLogs(logging.Filter):
    """SQLAlchemy logs result rows at DEBUG when its logger is set that low: rows carry message text."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


if not any(isinstance(f, _NoRowLogs) for f in logging.getLogger("sqlalchemy.engine.Engine").filters):
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoRowLogs())


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine with safe defaults for SQLite (WAL, busy timeout, FKs) and PostgreSQL (a pooled
    connection the server dropped is replaced before use). Bound parameters never appear in logs or in
    exception text (`hide_parameters`): they are conversation text."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection (sqlite3)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if parsed.database and parsed.database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). Every command migrates first, so processes that start
    at once take turns here (two at once on a new database both created the same table, and one crashed)."""
    from alembic import command

    config = _alembic_config(engine)
    with _one_migration_at_a_time(engine):
        command.upgrade(config, "head")


@contextmanager
def _one_migration_at_a_time(engine: Engine) -> Iterator[None]:
    """PostgreSQL: an advisory lock per schema, on a connection of its own (the server frees it if the process dies).
    SQLite: an flock on `<database file>-migrate-lock` (the kernel frees it likewise); in memory: nothing to share."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = conn.scalar(text("SELECT hashtext('flywheel-migrate:' || current_schema())"))
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}-migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file frees the lock


def is_initialized(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
