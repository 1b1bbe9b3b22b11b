"""Fixtures of the Slack scenario tests; the harness itself is in `tests/support/harness.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.app import create_app
from bot.services import Services
from bot.services.threads import ItemInfo
from bot.settings import Settings
from tests.support.factories import conversation, load, seed_kb
from tests.support.harness import REVIEW, SECRET, Harness, post_items
from tests.support.mock_slack import MockSlack


@pytest.fixture
def settings(tmp_path: Path) -> Settings:  # overrides tests/conftest.py: the bot's settings
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test", review_channel=REVIEW, digest_size=2,
    )


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def harness(settings: Settings, services: Services, slack: MockSlack) -> Iterator[Harness]:
    client = WebClient(base_url=slack.url, token="xoxb-test")
    h = Harness(create_app(settings, services, client=client), slack, services)
    yield h
    h.drain()  # no listener may outlive the test's database


@pytest.fixture
def world(services: Services, tmp_path: Path, slack: MockSlack) -> dict[str, ItemInfo]:
    """Demo-like conversations (two with the same knowledge gap, one fine), a small KB, and a digest whose
    items are real bot messages in the review channel."""
    load(services, tmp_path, [
        conversation("c1", gap=True),
        conversation("c2"),
        conversation("c3", gap=True, question="How long does a refund to my card take after a return?"),
    ])
    seed_kb(services)
    return post_items(services, slack, ["c1", "c2", "c3"])
