"""Fixtures of the security tests: the real app (`create_app`) against the mock Slack Web API, with probe
listeners that record what ran and post a message (so "nothing ran, nothing posted" can be checked)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

import bot.app
from bot.app import create_app
from bot.server import HttpServer, make_server
from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from tests.support.mock_slack import MockSlack

BOT_TOKEN = "xoxb-security-0123456789"
SECRET = "security-signing-secret"
CHANNEL = "C0PROBE01"


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:  # overrides tests/conftest.py
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
    )


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every probe listener that ran; each also posts to CHANNEL. The real listeners are not registered."""
    seen: list[str] = []

    def register(app: App) -> None:
        def probe(name: str) -> Callable[..., None]:
            def listener(ack: Callable[..., None], client: Any) -> None:
                ack()
                seen.append(name)
                client.chat_postMessage(channel=CHANNEL, text=f"probe {name}")
            return listener

        app.event("app_mention")(probe("event"))
        app.event("reaction_added")(probe("reaction"))
        app.action("probe_button")(probe("action"))
        app.command("/flywheel")(probe("command"))
        app.view("probe_view")(probe("view"))

    monkeypatch.setattr(bot.app, "register_handlers", register)
    return seen


@pytest.fixture
def app(settings: Settings, services: Services, ran: list[str]) -> App:
    return create_app(settings, services, client=make_web_client(settings))


@pytest.fixture
def serve(app: App, services: Services) -> Iterator[Callable[..., HttpServer]]:
    """Start `flywheel serve`'s server on 127.0.0.1 (settings overridable); stopped after the test."""
    started: list[tuple[HttpServer, threading.Thread]] = []

    def start(**overrides: Any) -> HttpServer:
        if overrides:
            services.settings = services.settings.model_copy(update=overrides)
        server = make_server(app, services, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(10)
