"""Fixtures for Slack tests: a running mock Web API and a client built by `make_web_client`.

tests/ is not a package (and `slack` would clash with slack_sdk's legacy package), so the helper
modules here (`mock_slack`, `signing`, `block_rules`) are imported by putting this folder on sys.path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from mock_slack import MockSlack  # noqa: E402

from bot.settings import Settings  # noqa: E402
from bot.slack.client import make_web_client  # noqa: E402

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
