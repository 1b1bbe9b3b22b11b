"""Notes in a gap's thread, through signed Slack events: a reply that starts with `note:` becomes a note and gets a
:memo: reaction; chatter ("thanks", "+1") stays out; an edited reply updates its note (the next draft has the new
text and counts it in its footer); a deleted reply drops it; the gap's thread message counts them."""

from __future__ import annotations

import time
from typing import Any

from bot.services.insight import gap_detail
from bot.services.notes import ReplyKind, classify
from bot.services.threads import ItemInfo
from tests.support.harness import ANA, BEN, REVIEW, Harness, texts, wait
from tests.support.mock_slack import BOT_USER_ID


def _reactions(harness: Harness, ts: str) -> list[str]:
    msg = harness.message(REVIEW, ts)
    return [r["name"] for r in msg.get("reactions", []) if BOT_USER_ID in r["users"]]


def _edit(harness: Harness, item: ItemInfo, ts: str, old: str, new: str, *, user: str = BEN) -> None:
    harness.event({"type": "message", "subtype": "message_changed", "channel": REVIEW, "hidden": True,
                   "ts": f"{time.time():.6f}", "channel_type": "channel",
                   "message": {"type": "message", "user": user, "text": new, "ts": ts, "thread_ts": item.ts,
                               "edited": {"user": user, "ts": f"{time.time():.6f}"}},
                   "previous_message": {"type": "message", "user": user, "text": old, "ts": ts,
                                        "thread_ts": item.ts}})


def _delete(harness: Harness, item: ItemInfo, ts: str, old: str) -> None:
    harness.event({"type": "message", "subtype": "message_deleted", "channel": REVIEW, "hidden": True,
                   "deleted_ts": ts, "ts": f"{time.time():.6f}", "channel_type": "channel",
                   "previous_message": {"type": "message", "user": BEN, "text": old, "ts": ts,
                                        "thread_ts": item.ts}})


def _gap_id(harness: Harness) -> int:
    from sqlalchemy import select

    from storage.models import Gap
    with harness.services.session() as s:
        return int(wait(lambda: s.scalar(select(Gap.id)), what="a gap"))


def _notes(harness: Harness, gap_id: int) -> list[tuple[str, str]]:
    return gap_detail(harness.services, gap_id).notes


def test_the_convention() -> None:
    assert classify("note: Refunds take 5 days.") == (ReplyKind.NOTE, "Refunds take 5 days.")
    assert classify("  NOTE :  Call them first") == (ReplyKind.NOTE, "Call them first")
    for chatter in ("thanks!", "+1", "I'll take a look later", "Note to self: ask Ana", "note:", "notes: x"):
        assert classify(chatter)[0] == ReplyKind.CHATTER, chatter
    for own in ("I'll write this", "i will take it!", "I’ll write it.", "I'll take this one"):
        assert classify(own)[0] == ReplyKind.OWN, own


def test_a_note_is_acknowledged_and_chatter_is_ignored(harness: Harness, world: dict[str, Any]) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item)
    gap_id = _gap_id(harness)
    assert "Start a reply with `note:`" in texts(gap_msg) and "(no notes yet)" in texts(gap_msg)

    _, thanks_ts = harness.reply(item, "thanks, great catch", user=ANA)
    _, plus_ts = harness.reply(item, "+1", user=BEN)
    _, note_ts = harness.reply(item, "note: Store credit refunds are instant.", user=BEN)
    wait(lambda: _reactions(harness, note_ts) == ["memo"], what="the :memo: on the note")
    wait(lambda: "(1 note so far)" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the count")
    harness.drain()
    assert _notes(harness, gap_id) == [(BEN, "Store credit refunds are instant.")]
    assert _reactions(harness, thanks_ts) == [] and _reactions(harness, plus_ts) == []
    assert not harness.slack.rejections


def test_an_edit_updates_the_note_and_the_next_draft(harness: Harness, world: dict[str, Any]) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item)
    gap_id = _gap_id(harness)
    old = "note: Store credit refunds take a day."
    _, ts = harness.reply(item, old, user=BEN)
    wait(lambda: _notes(harness, gap_id), what="the note")

    _edit(harness, item, ts, old, "note: Store credit refunds are instant.")
    wait(lambda: _notes(harness, gap_id) == [(BEN, "Store credit refunds are instant.")], what="the edit")
    _, chat_ts = harness.reply(item, "Thanks Ben", user=ANA)
    _edit(harness, item, chat_ts, "Thanks Ben", "note: Gift cards are refunded as store credit.", user=ANA)
    wait(lambda: len(_notes(harness, gap_id)) == 2, what="chatter edited into a note")
    wait(lambda: _reactions(harness, chat_ts) == ["memo"], what="its :memo:")

    draft = harness.write_draft(item, gap_msg)
    body = texts(draft)
    assert "Store credit refunds are instant." in body and "take a day" not in body
    assert "Gift cards are refunded as store credit." in body
    assert "2 notes folded in" in body


def test_a_deleted_reply_drops_its_note(harness: Harness, world: dict[str, Any]) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item)
    gap_id = _gap_id(harness)
    text = "note: Refunds to a closed card come back as a cheque."
    _, ts = harness.reply(item, text, user=BEN)
    wait(lambda: "(1 note so far)" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the count")

    _delete(harness, item, ts, text)
    wait(lambda: "(no notes yet)" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the count back to 0")
    assert _notes(harness, gap_id) == []
    draft = harness.write_draft(item, gap_msg)
    assert "cheque" not in texts(draft) and "no notes folded in" in texts(draft)

    # an edit that drops the prefix turns the note back into conversation: the note and its :memo: go
    _, ts2 = harness.reply(item, "note: Ask for the last four digits.", user=BEN)
    wait(lambda: _reactions(harness, ts2) == ["memo"], what="the :memo:")
    _edit(harness, item, ts2, "note: Ask for the last four digits.", "never mind")
    wait(lambda: _reactions(harness, ts2) == [], what="the :memo: removed")
    harness.drain()
    assert _notes(harness, gap_id) == []
    assert not harness.slack.rejections
