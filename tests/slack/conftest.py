"""Fixtures for Slack tests: a running mock Web API (`tests/support/mock_slack.py`) and a client built by
`make_web_client`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.settings import Settings
from bot.slack.client import make_web_client
from tests.support.mock_slack import MockSlack

BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
def mock_slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def slack_settings(mock_slack: MockSlack) -> Settings:
    return Settings(_env_file=None, slack_api_url=mock_slack.url, slack_bot_token=BOT_TOKEN)  # type: ignore[call-arg]


@pytest.fixture
def slack_client(slack_settings: Settings) -> WebClient:
    return make_web_client(slack_settings)
