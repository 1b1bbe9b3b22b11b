"""The Slack scenario fixtures (tests/handlers/conftest.py) for the queue tests, every day a digest day."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.handlers.conftest import harness, slack, world
from tests.support.harness import REVIEW, SECRET

__all__ = ["harness", "settings", "slack", "world"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test", review_channel=REVIEW, digest_size=2, digest_days="*",
    )
