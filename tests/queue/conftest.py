"""The Slack scenario fixtures (tests/handlers/conftest.py) for the queue tests, every day a digest day."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import NO_POSTGRES, PG_URL, _drop_pg_schema, _pg_url
from tests.handlers.conftest import harness, slack, world
from tests.support.harness import REVIEW, SECRET

__all__ = ["harness", "pg_url", "settings", "slack", "world"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test", review_channel=REVIEW, digest_size=2, digest_days="*",
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own (skipped without FLYWHEEL_TEST_POSTGRES_URL)."""
    if not PG_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield _pg_url(schema)
    _drop_pg_schema(schema)
