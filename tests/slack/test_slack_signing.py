from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from mock_slack import MockSlack
from signing import command_fields, command_request, event_request, interaction_request
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"


@pytest.fixture
def app(mock_slack: MockSlack, slack_client: WebClient) -> tuple[App, list[tuple[str, Any]]]:
    """A tiny bolt app in HTTP mode, talking to the mock (auth.test included)."""
    seen: list[tuple[str, Any]] = []
    bolt = App(signing_secret=SECRET, client=slack_client, process_before_response=True)

    @bolt.command("/flywheel")
    def handle_command(ack, command):  # type: ignore[no-untyped-def]
        ack(f"got {command['text']}")
        seen.append(("command", command["text"]))

    @bolt.action("flag")
    def handle_flag(ack, body):  # type: ignore[no-untyped-def]
        ack()
        seen.append(("action", body["actions"][0]["value"]))

    @bolt.event("reaction_added")
    def handle_reaction(event):  # type: ignore[no-untyped-def]
        seen.append(("event", event["reaction"]))

    return bolt, seen


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


def test_bolt_accepts_signed_command(app, mock_slack: MockSlack) -> None:  # type: ignore[no-untyped-def]
    bolt, seen = app
    response = bolt.dispatch(command_request(command_fields("stats week"), secret=SECRET).to_bolt())
    assert response.status == 200
    assert response.body == "got stats week"  # ack("text") answers with a plain body
    assert seen == [("command", "stats week")]
    assert mock_slack.calls_to("auth.test")  # bolt authorised against the mock


def test_bolt_accepts_signed_action_and_event(app) -> None:  # type: ignore[no-untyped-def]
    bolt, seen = app
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANA"},
        "team": {"id": "T111"},
        "api_app_id": "A111",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C111"},
        "channel": {"id": "C111"},
        "trigger_id": "1.2.3",
        "response_url": "https://hooks.slack.com/actions/T111/1/x",
        "actions": [{"type": "button", "action_id": "flag", "block_id": "b", "value": '{"item_id":7}', "action_ts": "1.3"}],
    }
    assert bolt.dispatch(interaction_request(payload, secret=SECRET).to_bolt()).status == 200
    event = {"type": "reaction_added", "user": "U0ANA", "reaction": "books", "item_user": "UFLYBOT01",
             "item": {"type": "message", "channel": "C111", "ts": "1.2"}, "event_ts": "1.4"}
    assert bolt.dispatch(event_request(event, secret=SECRET).to_bolt()).status == 200
    assert seen == [("action", '{"item_id":7}'), ("event", "books")]


def test_bolt_rejects_bad_signature_and_stale_timestamp(app) -> None:  # type: ignore[no-untyped-def]
    bolt, seen = app
    wrong = command_request(command_fields("help"), secret="not-the-secret")
    assert bolt.dispatch(wrong.to_bolt()).status == 401
    stale = command_request(command_fields("help"), secret=SECRET, timestamp=int(time.time()) - 600)
    assert bolt.dispatch(stale.to_bolt()).status == 401
    assert seen == []
