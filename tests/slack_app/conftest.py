"""Fixtures for the Slack app edge: a running mock Slack Web API, settings pointing at it, and data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from tests.support.factories import conversation, load
from tests.support.mock_slack import MockSlack

BOT_TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
REVIEW = "C0REVIEW"
DIGEST_SIZE = 5


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:
    """Overrides the root `settings`: the `services` fixture is built from it (on each backend)."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, review_channel=REVIEW, digest_size=DIGEST_SIZE,
    )


@pytest.fixture
def client(settings: Settings) -> WebClient:
    return make_web_client(settings)


@pytest.fixture
def loaded(services: Services, tmp_path: Path) -> Services:
    """Services with eight conversations (three with a gap; one quotes a channel-wide ping)."""
    rows = [conversation(f"conv-{i}", gap=i < 3) for i in range(8)]
    rows[0]["messages"][2]["text"] = "Hi <!channel> team, " + rows[0]["messages"][2]["text"]  # a shown turn
    load(services, tmp_path, rows)
    return services
