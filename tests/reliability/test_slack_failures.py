"""Slack failing: 429 with Retry-After, 5xx and dropped connections retried with backoff; a channel the bot
can't post to gives the operator a clear log line and the user a clear message, and the scheduled digest
runs again next time. (A digest half-posted when Slack failed resumes without duplicates:
tests/slack_app/test_digest.py::test_failure_mid_way_then_rerun_posts_only_the_missing.)"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from sqlalchemy import select

import bot.jobs as jobs
from bot.slack.client import make_web_client, post_message
from handlers.ids import ActionId
from storage.models import Draft, Gap
from tests.support.factories import conversation, load
from tests.support.faults import TcpProxy
from tests.support.harness import REVIEW, texts
from tests.support.reliability import count
from tests.support.signing import command_fields, command_request

CHANNEL = "C0RELIAB"


def ok_posts(slack) -> list:  # type: ignore[no-untyped-def]
    return [c for c in slack.calls_to("chat.postMessage") if c.ok]


def test_a_429_waits_for_retry_after_then_posts_once(settings, slack, tally) -> None:  # type: ignore[no-untyped-def]
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    tally.fault("slack 429")
    started = time.monotonic()
    ts = post_message(make_web_client(settings), channel=CHANNEL, text="hello")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert tally.expect("messages", expected=1, got=len(ok_posts(slack))) == 1
    assert ok_posts(slack)[0].response["ts"] == ts


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_with_backoff(settings, slack, tally, status) -> None:  # type: ignore[no-untyped-def]
    slack.fail_next("chat.postMessage", status=status, times=2)
    tally.fault(f"slack {status}", 2)
    started = time.monotonic()
    post_message(make_web_client(settings), channel=CHANNEL, text="hello")
    assert time.monotonic() - started >= 1.0  # 0.5 s then 1 s, plus jitter
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [status, status, 200]
    assert tally.expect("messages", expected=1, got=len(ok_posts(slack))) == 1


def test_dropped_connections_are_retried(settings, slack, tally) -> None:  # type: ignore[no-untyped-def]
    proxy = TcpProxy("127.0.0.1", int(slack.root.rsplit(":", 1)[1]))
    try:
        proxy.drop_next(2)  # the request is sent, the connection closes without an answer
        client = make_web_client(settings.model_copy(update={"slack_api_url": f"http://127.0.0.1:{proxy.port}/api/"}))
        post_message(client, channel=CHANNEL, text="hello")
    finally:
        proxy.close()
    tally.fault("slack connection dropped", proxy.dropped)
    assert proxy.dropped == 2
    assert tally.expect("messages", expected=1, got=len(ok_posts(slack))) == 1


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived"])
def test_a_refused_thread_post_tells_the_user_and_the_operator(harness, world, caplog, tally, code) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)
    caplog.set_level(logging.INFO)
    harness.slack.fail_next("chat.postMessage", error=code)
    tally.fault(f"slack {code}")
    assert harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT).status == 200
    shown = texts(harness.slack.wait_for("chat.postEphemeral")[0].blocks)
    assert {"channel_not_found": "can't find that channel", "not_in_channel": "/invite",
            "is_archived": "archived"}[code] in shown
    harness.drain()
    logged = [r.getMessage() for r in caplog.records]
    assert any("slack post refused" in m and repr(REVIEW) in m and code in m for m in logged)
    with harness.services.session() as s:
        assert s.scalar(select(Gap.state)) == "open"  # nothing half-done: no draft, no state change
    assert count(harness.services, Draft) == 0


def test_digest_now_to_an_archived_channel_answers_the_user(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    harness.slack.add_channel(REVIEW, is_archived=True)
    tally.fault("slack is_archived")
    fields = command_fields("digest now", user_id="UANA0001", channel_id="C0OPS001",
                            response_url=harness.slack.webhook_url("cmd"))
    assert harness.dispatch(command_request(fields, secret="test-signing-secret")).status == 200
    call = harness.slack.wait_for("chat.postEphemeral")[0]
    assert call.params["channel"] == "C0OPS001" and "archived" in json.dumps(call.params)


def test_the_scheduled_digest_survives_a_refusal_and_runs_next_time(services, tmp_path, slack, caplog, tally,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)
    load(services, tmp_path, [conversation(f"d{i}", gap=i < 2) for i in range(4)])
    services.clock = lambda: dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    slack.add_channel(REVIEW, is_member=False)
    scheduler = jobs.build_scheduler(services, make_web_client(services.settings))
    caplog.set_level(logging.INFO)
    scheduler.get_job("digest_job").func()  # 09:00: the bot was never invited
    tally.fault("slack not_in_channel")
    assert ok_posts(slack) == []
    assert any(r.name == "bot.jobs" and "digest_job failed" in r.getMessage() for r in caplog.records)
    assert any("not_in_channel" in r.getMessage() and repr(REVIEW) in r.getMessage() for r in caplog.records)

    slack.add_channel(REVIEW)  # someone invites the bot; the job is still scheduled and runs again
    assert scheduler.get_job("digest_job") is not None
    scheduler.get_job("digest_job").func()
    header = [c for c in ok_posts(slack) if "digest for" in c.params["text"]]
    assert tally.expect("digest headers", expected=1, got=len(header)) == 1
