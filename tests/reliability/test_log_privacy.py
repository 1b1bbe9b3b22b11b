"""Logs carry ids, never message text, tokens or keys: a whole Slack scenario (digest → flag → note → draft →
publish) with every logger at DEBUG, the Slack libraries included (they log request and response bodies
there, and Bolt logs a forged request's body at INFO), then a scan of everything logged."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from bot.services.threads import find_item
from bot.slack.client import make_web_client
from bot.slack.digest import post_digest
from handlers.ids import ActionId
from tests.support.factories import conversation, load, seed_kb
from tests.support.harness import ANA, BEN, REVIEW, SECRET
from tests.support.reliability import BOT_TOKEN, reply
from tests.support.signing import event_request

QUESTION = "How long does a refund to my credit card take, zebra-quartz, after I return an item?"
HUMAN = "Refunds to a credit card are issued within 5 business days, narwhal-garnet."
NOTE = "Store credit refunds are instant, okapi-topaz."
SECRETS = ("zebra-quartz", "narwhal-garnet", "okapi-topaz", "5 business days", "credit card take", BOT_TOKEN,
           SECRET, BOT_TOKEN[5:20])


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Root, and every logger that exists or that the libraries will create, at DEBUG (restored after)."""
    names = ["slack_bolt", "slack_sdk", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.engine.Engine", "urllib3",
             "openai", "httpx", "alembic", "bot", "handlers", "storage", "slack_bolt.flywheel",
             "slack_sdk.web.base_client", "apscheduler", *logging.root.manager.loggerDict]
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_a_whole_scenario_logs_no_text_token_or_secret(services, make_harness, slack, tmp_path,
                                                       everything_at_debug) -> None:  # type: ignore[no-untyped-def]
    caplog = everything_at_debug
    row = conversation("c1", gap=True, question=QUESTION)
    row["messages"][4]["text"] = HUMAN
    load(services, tmp_path, [row, conversation("c2")])
    seed_kb(services)
    harness = make_harness(services)  # create_app with every logger already at DEBUG
    client = make_web_client(services.settings)
    assert post_digest(services, client, day=dt.date(2026, 11, 20), channel=REVIEW, sleep=lambda _: None).posted
    call = next(c for c in slack.calls_to("chat.postMessage") if "c1" in c.params["text"])
    item = find_item(services, channel=REVIEW, ts=call.response["ts"])

    gap_msg = harness.flag(item)
    harness.event(reply(item, "note: " + NOTE, user=BEN, ts="1700000002.000100"))
    draft_msg = harness.write_draft(item, gap_msg)
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH, user=ANA)
    harness.thread_with(item, "replayed after publishing")
    forged = event_request({"type": "message", "channel": REVIEW, "user": BEN, "text": NOTE, "ts": "1.5",
                            "thread_ts": item.ts}, secret="forged-secret")
    assert harness.dispatch(forged).status == 401  # Bolt logs this request's body at INFO
    harness.drain()

    names = {r.name for r in caplog.records}
    assert "slack_sdk.web.base_client" in names and any(n.startswith(("slack_bolt", "flywheel")) for n in names)
    assert any("Sending a request" in r.getMessage() for r in caplog.records)  # DEBUG really was on
    refusals = ("Invalid request signature", "slack request refused")  # Bolt's verifier, or bot.slack.verify's
    assert any(m in r.getMessage() for r in caplog.records for m in refusals)  # the forged request was logged
    logged = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for fragment in SECRETS:
        assert fragment not in logged, fragment
