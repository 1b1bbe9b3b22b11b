"""Fixtures for the production edge: mock Slack, settings pointing at it, and a running `flywheel serve`
server (`bot.server.make_server`) on each database backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_bolt import App

from bot.app import create_app
from bot.server import make_server
from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from tests.support.mock_slack import MockSlack

BOT_TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, model_prices={"gpt-4o-mini": (1000.0, 2000.0)},
    )


@dataclass
class Served:
    url: str
    app: App
    services: Services


@pytest.fixture
def served(services: Services) -> Iterator[Served]:
    app = create_app(services.settings, services, client=make_web_client(services.settings))
    httpd = make_server(app, services, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{httpd.server_port}", app, services)
    httpd.shutdown()
    httpd.server_close()
