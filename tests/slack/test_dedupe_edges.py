"""Interactivity payloads pass the event dedupe untouched (mutation testing: checking them too kept the suite
green, while it logged a false "event without a usable event_id" warning for every click)."""

from __future__ import annotations

import logging

import pytest
from slack_bolt import BoltRequest, BoltResponse

from bot.services import Services
from bot.slack import dedupe
from bot.slack.dedupe import make_dedupe_middleware


@pytest.mark.parametrize("kind", ["block_actions", "view_submission", "shortcut"])
def test_an_interaction_passes_without_a_dedupe_warning(services: Services, caplog: pytest.LogCaptureFixture,
                                                        kind: str) -> None:
    passed = BoltResponse(status=200, body="passed")
    middleware = make_dedupe_middleware(services, clock=lambda: 0.0)
    with caplog.at_level(logging.DEBUG, logger="bot.slack.dedupe"):
        response = middleware({"type": kind}, BoltRequest(body="{}", headers={}), lambda: passed)
    assert response is passed
    assert caplog.records == []


@pytest.mark.parametrize(("event", "named"), [({"type": "app_mention"}, "'app_mention'"), ("junk", "None")])
@pytest.mark.parametrize("event_id", ["", "E" * 10_000, 42])
def test_an_unusable_event_id_is_processed_once_without_dedupe_and_logged(
        services: Services, caplog: pytest.LogCaptureFixture, event: object, named: str, event_id: object) -> None:
    passed = BoltResponse(status=200, body="passed")
    middleware = make_dedupe_middleware(services, clock=lambda: 0.0)
    body = {"type": "event_callback", "event_id": event_id, "event": event}
    with caplog.at_level(logging.INFO, logger="bot.slack.dedupe"):
        response = middleware(body, BoltRequest(body="{}", headers={}), lambda: passed)
    assert response is passed
    assert [r.getMessage() for r in caplog.records] == [
        f"event without a usable event_id processed without dedupe type={named}"]


def test_a_redelivery_is_dropped_and_logged_with_its_retry_number(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    middleware = make_dedupe_middleware(services, clock=lambda: 0.0)
    body = {"type": "event_callback", "event_id": "Ev0DEDUPE1", "event": {"type": "app_mention"}}
    ran: list[str] = []

    def listener() -> BoltResponse:
        ran.append("ran")
        return BoltResponse(status=200, body="passed")

    middleware(body, BoltRequest(body="{}", headers={}), listener)
    with caplog.at_level(logging.INFO, logger="bot.slack.dedupe"):
        again = middleware(body, BoltRequest(body="{}", headers={"X-Slack-Retry-Num": "2"}), listener)
    assert ran == ["ran"]
    assert (again.status, again.body) == (200, "")
    assert "duplicate event dropped event_id='Ev0DEDUPE1' retry='2'" in [r.getMessage() for r in caplog.records]


def test_an_unreachable_database_asks_slack_to_retry(services: Services, caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*_: object) -> bool:
        raise ConnectionError("database went away")

    monkeypatch.setattr(dedupe.events, "first_delivery", down)
    middleware = make_dedupe_middleware(services, clock=lambda: 0.0)
    body = {"type": "event_callback", "event_id": "Ev0DOWN1", "event": {"type": "app_mention"}}
    with caplog.at_level(logging.ERROR, logger="bot.slack.dedupe"):
        response = middleware(body, BoltRequest(body="{}", headers={"X-Slack-Retry-Num": "1"}), pytest.fail)
    assert (response.status, response.body) == (503, '{"error": "temporarily_unavailable"}')
    assert [r.getMessage() for r in caplog.records] == [
        "event not recorded, asking Slack to retry event_id='Ev0DOWN1' retry='1'"]
