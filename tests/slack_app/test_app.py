"""`create_app` and the HTTP edge of `flywheel serve`: signed requests through Bolt, against the mock Slack."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App, BoltContext
from sqlalchemy import create_engine

import bot.app
import handlers
from bot.app import create_app
from bot.errors import InvalidInput
from bot.server import make_server
from bot.services import Services
from bot.slack.errors import show_error
from tests.slack_app.conftest import REVIEW, SECRET
from tests.support.http_client import http
from tests.support.signing import SignedRequest, event_request, interaction_request, sign

seen: dict[str, Any] = {}
# Bolt 1.30 race (slack_bolt/listener/thread_runner.py): when a listener raises after ack(), the error path
# resets `ack.response` to None; if that happens before the request thread's 10 ms poll saw the ack, Bolt
# answers 404 "didn't call ack()". Real listeners do work after ack(); these test ones wait a little.
ACK_SEEN = 0.1


def _test_listeners(app: App) -> None:
    """Registered before the real handlers, so these action ids are ours."""

    @app.action("fwtest_services")
    def got_services(ack, services, context) -> None:  # type: ignore[no-untyped-def]
        seen["services"], seen["context_services"] = services, context["services"]
        ack()

    @app.action("fwtest_flywheel_error")
    def flywheel_error(ack) -> None:  # type: ignore[no-untyped-def]
        ack()
        time.sleep(ACK_SEEN)
        raise InvalidInput("That draft is gone; open the latest one.")

    @app.action("fwtest_crash")
    def crash(ack) -> None:  # type: ignore[no-untyped-def]
        ack()
        time.sleep(ACK_SEEN)
        raise RuntimeError("internal detail xoxb-should-not-leak")


@pytest.fixture
def app(settings, services: Services, client, monkeypatch: pytest.MonkeyPatch) -> App:  # type: ignore[no-untyped-def]
    real = getattr(handlers, "register_handlers", None)

    def register(app: App) -> None:
        _test_listeners(app)
        if real is not None:
            real(app)

    monkeypatch.setattr(bot.app, "register_handlers", register)  # what create_app calls
    seen.clear()
    return create_app(settings, services, client=client)


def click(action_id: str, slack) -> SignedRequest:  # type: ignore[no-untyped-def]
    payload = {
        "type": "block_actions", "user": {"id": "U0ANA", "username": "ana", "team_id": "T111"},
        "api_app_id": "A111", "token": "verification_token", "trigger_id": "1.2.abc",
        "container": {"type": "message", "message_ts": "1.000002", "channel_id": REVIEW, "is_ephemeral": False},
        "team": {"id": "T111", "domain": "flywheel-test"}, "channel": {"id": REVIEW, "name": "review"},
        "message": {"type": "message", "ts": "1.000002", "text": "digest item", "bot_id": "BFLYBOT01"},
        "response_url": slack.webhook_url(), "state": {"values": {}},
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": "{}", "action_ts": "1.3"}],
    }
    return interaction_request(payload, secret=SECRET)


def test_services_reach_listeners_through_the_context(app: App, services: Services, slack) -> None:  # type: ignore[no-untyped-def]
    response = app.dispatch(click("fwtest_services", slack).to_bolt())
    assert response.status == 200
    assert seen["services"] is services and seen["context_services"] is services
    assert slack.calls_to("auth.test")  # the token came from settings, through make_web_client


def test_a_flywheel_error_is_shown_ephemeral_with_its_message(app: App, slack) -> None:  # type: ignore[no-untyped-def]
    assert app.dispatch(click("fwtest_flywheel_error", slack).to_bolt()).status == 200
    call = slack.wait_for("chat.postEphemeral")[0]
    assert (call.params["channel"], call.params["user"]) == (REVIEW, "U0ANA")
    shown = json.dumps(call.params)
    assert "That draft is gone; open the latest one." in shown and "Error id" not in shown


def test_an_unexpected_error_shows_only_a_correlation_id(app: App, slack, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="bot.slack.errors")
    assert app.dispatch(click("fwtest_crash", slack).to_bolt()).status == 200
    shown = json.dumps(slack.wait_for("chat.postEphemeral")[0].params)
    assert "xoxb-should-not-leak" not in shown and "RuntimeError" not in shown
    record = next(r for r in caplog.records if r.name == "bot.slack.errors")
    error_id = record.args[0]
    assert f"Error id `{error_id}`" in shown and len(error_id) == 8
    assert isinstance(record.exc_info[1], RuntimeError)  # the traceback is in the log, under that id


def test_an_error_without_channel_is_only_logged(slack, client) -> None:  # type: ignore[no-untyped-def]
    assert show_error(InvalidInput("nope"), BoltContext({"user_id": "U0ANA"}), client) is None
    assert len(show_error(KeyError("x"), BoltContext(), client) or "") == 8
    assert slack.calls_to("chat.postEphemeral") == []


@pytest.fixture
def server(app: App, services: Services) -> Iterator[str]:
    httpd = make_server(app, services, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_healthz_checks_the_database(server: str) -> None:
    status, body = http(f"{server}/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "db": True}


def test_healthz_reports_a_dead_database(app: App, services: Services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = dataclasses.replace(services, engine=create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    httpd = make_server(app, dead, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        status, body = http(f"http://127.0.0.1:{httpd.server_port}/healthz")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert status == 503 and json.loads(body) == {"ok": False, "db": False}


def test_unknown_paths_are_404(server: str) -> None:
    assert http(f"{server}/")[0] == 404
    assert http(f"{server}/slack/events")[0] == 404  # GET
    assert http(f"{server}/slack/other", body="{}")[0] == 404


def test_a_bad_signature_is_401(server: str) -> None:
    signed = event_request({"type": "url_verification", "challenge": "abc"}, secret="not-the-secret")
    assert http(f"{server}/slack/events", body=signed.body, headers=signed.headers)[0] == 401
    assert http(f"{server}/slack/events", body="{}", headers={"content-type": "application/json"})[0] == 401


def test_signed_url_verification_and_ssl_check(server: str) -> None:
    signed = event_request({"type": "url_verification", "challenge": "c-123", "token": "t"}, secret=SECRET)
    status, body = http(f"{server}/slack/events", body=signed.body, headers=signed.headers)
    assert status == 200 and json.loads(body) == {"challenge": "c-123"}
    check = sign("ssl_check=1&token=t", secret=SECRET, content_type="application/x-www-form-urlencoded")
    assert http(f"{server}/slack/events", body=check.body, headers=check.headers)[0] == 200


def test_a_signed_interaction_reaches_bolt_over_http(server: str, slack, services: Services) -> None:  # type: ignore[no-untyped-def]
    signed = click("fwtest_services", slack)
    status, _ = http(f"{server}/slack/events", body=signed.body, headers=signed.headers)
    assert status == 200 and seen["services"] is services
