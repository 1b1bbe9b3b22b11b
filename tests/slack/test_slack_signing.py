"""The signed-request builders (`tests/support/signing.py`) and Flywheel's own app (`create_app`) receiving
them: a correctly signed command, button click and event each act; a wrong secret or a stale timestamp
is a 401 and nothing happens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bot.app import create_app
from bot.services import Services
from bot.services.threads import ItemInfo
from bot.settings import Settings
from handlers.ids import ActionId
from storage.models import Gap, ProcessedEvent
from tests.support.factories import conversation, load
from tests.support.harness import ANA, REVIEW, find_element, post_items, texts, wait
from tests.support.mock_slack import MockSlack
from tests.support.signing import SignedRequest, command_fields, command_request, event_request, interaction_request

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
def settings(tmp_path: Path, mock_slack: MockSlack) -> Settings:  # overrides tests/conftest.py: `services` use it
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=mock_slack.url,
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, review_channel=REVIEW,
    )


@pytest.fixture
def app(settings: Settings, services: Services, slack_client: WebClient) -> Iterator[App]:
    bolt = create_app(settings, services, client=slack_client)
    yield bolt
    bolt.listener_runner.listener_executor.shutdown(wait=True)  # no listener may outlive the database


@pytest.fixture
def item(services: Services, tmp_path: Path, mock_slack: MockSlack) -> ItemInfo:
    """A digest item the bot posted in the review channel (a conversation with a knowledge gap)."""
    load(services, tmp_path, [conversation("c1", gap=True)])
    return post_items(services, mock_slack, ["c1"])["c1"]


def gaps(services: Services) -> int:
    with services.session() as s:
        return s.scalar(select(func.count()).select_from(Gap)) or 0


def signed(kind: str, item: ItemInfo, slack: MockSlack, *, secret: str = SECRET,
           timestamp: int | None = None) -> SignedRequest:
    if kind == "command":
        fields = command_fields("help", user_id=ANA, channel_id=REVIEW, response_url=slack.webhook_url("help"))
        return command_request(fields, secret=secret, timestamp=timestamp)
    if kind == "event":
        event = {"type": "reaction_added", "user": ANA, "reaction": "books", "item_user": "UFLYBOT01",
                 "item": {"type": "message", "channel": item.channel, "ts": item.ts}, "event_ts": f"{time.time():.6f}"}
        return event_request(event, secret=secret, timestamp=timestamp)
    msg = slack.messages[(item.channel, item.ts)]
    button = find_element(msg["blocks"], ActionId.FLAG)
    payload = {
        "type": "block_actions", "user": {"id": ANA, "team_id": "T111"}, "team": {"id": "T111"},
        "api_app_id": "A111", "trigger_id": "1.2.3", "channel": {"id": item.channel}, "message": msg,
        "container": {"type": "message", "message_ts": item.ts, "channel_id": item.channel},
        "response_url": slack.webhook_url("action"), "state": {"values": {}},
        "actions": [{"type": "button", "action_id": ActionId.FLAG, "block_id": "b", "value": button["value"],
                     "action_ts": "1.3"}],
    }
    return interaction_request(payload, secret=secret, timestamp=timestamp)


def test_signatures_verify_with_slack_sdk() -> None:
    verifier = SignatureVerifier(SECRET)
    for req in (
        event_request({"type": "reaction_added", "reaction": "books"}, secret=SECRET),
        interaction_request({"type": "block_actions", "actions": []}, secret=SECRET),
        command_request(command_fields("help"), secret=SECRET),
    ):
        ts = req.headers["x-slack-request-timestamp"]
        assert verifier.is_valid(req.body, ts, req.headers["x-slack-signature"])
        assert not verifier.is_valid(req.body + " ", ts, req.headers["x-slack-signature"])
        assert not SignatureVerifier("other").is_valid(req.body, ts, req.headers["x-slack-signature"])


def test_body_shapes() -> None:
    event = event_request({"type": "reaction_added", "reaction": "books"}, secret=SECRET)
    envelope = json.loads(event.body)
    assert envelope["type"] == "event_callback" and envelope["event"]["reaction"] == "books"
    assert envelope["event_id"].startswith("Ev") and event.headers["content-type"] == "application/json"
    action = interaction_request({"type": "block_actions", "x": "a&b"}, secret=SECRET)
    assert action.body.startswith("payload=")
    assert json.loads(parse_qs(action.body)["payload"][0]) == {"type": "block_actions", "x": "a&b"}
    command = command_request(command_fields("stats week"), secret=SECRET)
    assert parse_qs(command.body)["text"] == ["stats week"]
    assert parse_qs(command.body)["command"] == ["/flywheel"]
    fixed = command_request("text=x", secret=SECRET, timestamp=1_700_000_000)
    assert fixed.headers["x-slack-request-timestamp"] == "1700000000"


def test_flywheel_answers_a_signed_command(app: App, item: ItemInfo, mock_slack: MockSlack) -> None:
    assert app.dispatch(signed("command", item, mock_slack).to_bolt()).status == 200
    answer: Any = wait(lambda: next((c for c in mock_slack.calls_to("webhook") if "Flywheel help" in texts(c.params)),
                                    None), what="the help answer on the response_url")
    assert answer.params.get("response_type") == "ephemeral"


@pytest.mark.parametrize("kind", ["event", "action"])
def test_flywheel_flags_a_gap_from_a_signed_event_or_click(app: App, services: Services, item: ItemInfo,
                                                           mock_slack: MockSlack, kind: str) -> None:
    assert app.dispatch(signed(kind, item, mock_slack).to_bolt()).status == 200
    wait(lambda: gaps(services) == 1, what="the gap")
    wait(lambda: any("Suggested article" in texts(m) for m in mock_slack.thread(item.channel, item.ts)),
         what="the outline in the item's thread")


@pytest.mark.parametrize("kind", ["command", "event", "action"])
@pytest.mark.parametrize("fault", ["wrong secret", "stale timestamp"])
def test_flywheel_refuses_a_bad_signature_and_does_nothing(app: App, services: Services, item: ItemInfo,
                                                          mock_slack: MockSlack, kind: str, fault: str) -> None:
    if fault == "wrong secret":
        request = signed(kind, item, mock_slack, secret="not-the-signing-secret")
    else:  # Slack's window is 5 minutes
        request = signed(kind, item, mock_slack, timestamp=int(time.time()) - 301)
    before = len(mock_slack.calls)
    assert app.dispatch(request.to_bolt()).status == 401
    time.sleep(0.3)  # a listener that (wrongly) started would have acted by now
    app.listener_runner.listener_executor.shutdown(wait=True)
    assert [c.method for c in mock_slack.calls[before:]] == []  # no answer, no post, not even auth.test
    assert gaps(services) == 0
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
