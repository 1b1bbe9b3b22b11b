"""Bad input everywhere: garbage bodies, missing fields, unknown or tampered buttons, stale buttons on a gap
that is gone, huge messages. Each gets a clear answer (or a quiet no-op), and the app keeps working.
(Non-UTF-8 import files: tests/services/test_importer.py::
test_bad_lines_are_reported_with_line_numbers_and_good_lines_kept
and ::test_csv_bad_row_drops_its_conversation_and_names_the_row.)"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select

from bot.server import make_server
from bot.slack.client import make_web_client
from bot.slack.digest import post_digest
from handlers.ids import ActionId
from storage.models import AuditEvent, Gap, GapConversation, GapFlagger, GapNote, Outline
from tests.support.factories import conversation, load
from tests.support.harness import ANA, BEN, REVIEW, SECRET, texts, wait
from tests.support.reliability import count, reaction, reply
from tests.support.signing import event_request, interaction_request, sign


@pytest.fixture
def url(harness) -> Iterator[str]:  # type: ignore[no-untyped-def]
    httpd = make_server(harness.app, harness.services, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/slack/events"
    httpd.shutdown()
    httpd.server_close()


def post(url: str, signed) -> int:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, data=signed.body.encode(), headers=signed.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("body", ['{"type": "event_callback", "event": {', "payload=%7Bnot-json"])
def test_a_garbage_body_is_400_and_the_next_request_works(url, harness, world, tally, body) -> None:  # type: ignore[no-untyped-def]
    kind = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    assert post(url, sign(body, secret=SECRET, content_type=kind)) == 400
    assert post(url, sign(body, secret="forged", content_type=kind)) == 401  # unsigned: refused unparsed, never 500
    tally.fault("garbage body", 2)
    assert post(url, event_request(reaction(world["c1"], user=ANA), secret=SECRET)) == 200
    harness.thread_with(world["c1"], "Suggested article")
    assert count(harness.services, Gap) == 1


@pytest.mark.parametrize("event", [
    {"type": "reaction_added", "reaction": "books"},  # no user, no item
    {"type": "reaction_added", "user": ANA, "reaction": "books", "item": {"type": "file", "file": "F1"}},
    {"type": "reaction_removed", "user": ANA, "reaction": "books", "item": "not a dict"},
    {"type": "message", "user": BEN, "text": "hello", "ts": "1.1"},  # no channel, no thread
    {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": REVIEW, "ts": "1.2"},
    {"type": "app_home_opened", "user": ANA, "tab": "messages"},
    {"type": "member_joined_channel", "user": ANA, "channel": REVIEW},  # not subscribed at all
], ids=["no-user-no-item", "file-item", "item-not-a-dict", "no-channel", "deleted", "messages-tab", "unsubscribed"])
def test_events_missing_fields_change_nothing(harness, world, caplog, tally, event) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    status = harness.event(event).status
    tally.fault("malformed event")
    assert status in (200, 404)  # 404 only for an event type the app does not subscribe to
    assert harness.react("books", world["c1"], user=ANA).status == 200  # the app keeps working
    harness.thread_with(world["c1"], "Suggested article")
    harness.drain()
    assert count(harness.services, Gap) == 1 and count(harness.services, GapNote) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a no-op, not a crash
    assert "Traceback" not in "".join(texts(c.blocks) for c in harness.slack.calls_to("chat.postEphemeral"))


def click(harness, ts: str, action_id: str, value: str, *, user: str = ANA) -> int:  # type: ignore[no-untyped-def]
    payload = {"type": "block_actions", "user": {"id": user}, "api_app_id": "A111", "token": "t",
               "trigger_id": "1.2.3", "team": {"id": "T111"}, "channel": {"id": REVIEW},
               "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW},
               "message": harness.slack.messages[(REVIEW, ts)], "state": {"values": {}},
               "actions": [{"action_id": action_id, "type": "button", "value": value, "action_ts": "1.3"}]}
    return harness.dispatch(interaction_request(payload, secret=SECRET)).status


@pytest.mark.parametrize(("action_id", "value", "says"), [
    ("fw_unknown_from_an_old_version", "{}", "out of date"),
    (ActionId.FLAG.value, "not json", "out of date or invalid"),
    (ActionId.FLAG.value, '{"item_id": "DROP TABLE"}', "out of date or invalid"),
    (ActionId.FLAG.value, '{"item_id": 999999}', "no longer exists"),
    (ActionId.PUBLISH.value, '{"gap_id": 424242, "draft_id": 1}', "424242"),
])
def test_unknown_tampered_or_dangling_buttons_get_a_clear_answer(harness, world, tally, action_id, value,
                                                                 says) -> None:  # type: ignore[no-untyped-def]
    assert click(harness, world["c1"].ts, action_id, value) == 200  # acked: Slack never shows a failed click
    tally.fault("bad button payload")
    shown = texts(harness.slack.wait_for("chat.postEphemeral")[0].blocks)
    assert says in shown and "Traceback" not in shown and "Error id" not in shown
    harness.drain()
    assert count(harness.services, Gap) == 0 and not harness.thread(world["c1"])


def test_a_stale_button_on_a_deleted_gap_does_nothing(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)
    with harness.services.session() as s:  # someone cleaned the gap up by hand
        gap_id = s.scalar(select(Gap.id))
        for model in (GapFlagger, GapConversation, Outline):
            s.execute(delete(model).where(model.gap_id == gap_id))
        s.execute(delete(AuditEvent))
        s.execute(delete(Gap))
    before = len(harness.thread(item))
    tally.fault("stale button")
    harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT)
    shown = texts(harness.slack.wait_for("chat.postEphemeral")[0].blocks)
    assert f"No gap #{gap_id}" in shown
    harness.drain()
    assert len(harness.thread(item)) == before  # no placeholder, no half-written draft message


def test_huge_messages_fit_slack_and_are_kept_whole(services, harness, slack, tmp_path, tally) -> None:  # type: ignore[no-untyped-def]
    huge = "Why was my refund refused? " * 4000  # ~108,000 characters in one customer turn
    row = conversation("big", gap=True, question=huge)
    load(services, tmp_path, [row] + [conversation(f"n{i}") for i in range(2)])
    result = post_digest(services, make_web_client(services.settings), day=services.clock().date(), channel=REVIEW,
                         sleep=lambda _: None)
    tally.fault("huge message", 2)
    assert result.status == "posted" and not slack.rejections  # every message within Slack's limits
    from bot.services.threads import find_item

    call = next(c for c in slack.calls_to("chat.postMessage") if "big" in c.params["text"])
    item = find_item(services, channel=REVIEW, ts=call.response["ts"])
    harness.flag(item)
    note = "Refunds are refused when the item is damaged. " * 2000  # ~94,000 characters in a thread reply
    harness.event(reply(item, "note: " + note, user=BEN, ts="1700000001.000100"))
    wait(lambda: count(services, GapNote), what="the note")
    harness.drain()
    with services.session() as s:
        assert s.scalar(select(GapNote.text)) == note.strip()  # nothing lost
    assert not slack.rejections


def test_an_unknown_modal_is_closed_and_logged(harness, caplog, tally) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING)
    payload = {"type": "view_submission", "team": {"id": "T111"}, "user": {"id": ANA}, "api_app_id": "A111",
               "token": "t", "trigger_id": "1.2.3", "response_urls": [],
               "view": {"id": "V1", "type": "modal", "callback_id": "fw_modal_from_an_old_version",
                        "private_metadata": "garbage", "state": {"values": {}}}}
    tally.fault("unknown modal")
    response = harness.dispatch(interaction_request(payload, secret=SECRET))
    assert response.status == 200 and not response.body  # closed (a 404 would leave the modal hanging)
    assert any("fw_modal_from_an_old_version" in r.getMessage() for r in caplog.records)
