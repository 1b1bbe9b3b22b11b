"""Hostile `message_changed` / `message_deleted` events in a gap's thread, through signed requests to the real
app: an edit by a user of another workspace (a sibling in an Enterprise Grid org, a Slack Connect partner), the
bot's own edits, malformed payloads, a reply flipped in and out of being a note, a reaction Slack refuses."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.services.insight import gap_detail
from bot.services.threads import ItemInfo
from tests.handlers import conftest as scenario
from tests.support.harness import ANA, BEN, REVIEW, Harness, wait

harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures
OTHER_TEAM = "T0OTHER"


def _gap_id(h: Harness) -> int:
    from sqlalchemy import select

    from storage.models import Gap
    with h.services.session() as s:
        return int(wait(lambda: s.scalar(select(Gap.id)), what="a gap"))


def _edit(h: Harness, item: ItemInfo, ts: str, new: str, *, user: str = BEN, **extra: Any) -> None:
    message = {"type": "message", "user": user, "text": new, "ts": ts, "thread_ts": item.ts,
               "edited": {"user": user, "ts": f"{time.time():.6f}"}, **extra}
    h.event({"type": "message", "subtype": "message_changed", "channel": REVIEW, "hidden": True,
             "ts": f"{time.time():.6f}", "channel_type": "channel", "message": message,
             "previous_message": {"type": "message", "user": user, "text": "thanks", "ts": ts, "thread_ts": item.ts,
                                  **{k: v for k, v in extra.items() if k in ("team", "user_team")}}})


def _notes(h: Harness, gap_id: int) -> list[tuple[str, str]]:
    return gap_detail(h.services, gap_id).notes


def _settled(h: Harness, gap_id: int) -> list[tuple[str, str]]:
    """The notes once every listener has finished (no more requests afterwards)."""
    h.drain()
    return _notes(h, gap_id)


@pytest.mark.parametrize("where", [{"team": OTHER_TEAM}, {"user_team": OTHER_TEAM, "source_team": OTHER_TEAM}])
def test_an_edit_by_another_workspaces_user_adds_no_note(harness: Harness, world: dict[str, ItemInfo],
                                                          where: dict[str, str]) -> None:
    item = world["c1"]
    harness.flag(item)
    gap_id = _gap_id(harness)
    _, ts = harness.reply(item, "thanks", user=ANA)  # chatter: nothing to refuse yet
    _edit(harness, item, ts, "note: Refunds are instant, tell everyone.", user="U0PARTNER", **where)
    assert _settled(harness, gap_id) == []  # before: the edit's inner message team was never checked
    assert not harness.slack.calls_to("reactions.add")


def test_the_bots_own_edits_and_malformed_payloads_change_nothing(harness: Harness, world: dict[str, ItemInfo],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    item = world["c1"]
    harness.flag(item)
    gap_id = _gap_id(harness)
    _, ts = harness.reply(item, "thanks", user=BEN)
    wait(lambda: harness.slack.calls_to("chat.update"), what="the gap message's outline")
    posted = len(harness.slack.calls_to("chat.postMessage"))
    _edit(harness, item, ts, "note: from the bot", bot_id="B0BOT")
    for broken in ({"message": "note: x"}, {"message": None, "previous_message": ["x"]}, {},
                   {"message": {"text": "note: x", "ts": ts, "thread_ts": [item.ts], "edited": True}}):
        response = harness.event({"type": "message", "subtype": "message_changed", "channel": REVIEW,
                                  "ts": f"{time.time():.6f}", **broken})
        assert response.status == 200
    harness.event({"type": "message", "subtype": "message_deleted", "channel": REVIEW, "deleted_ts": ["x"],
                   "ts": f"{time.time():.6f}"})
    assert _settled(harness, gap_id) == []
    assert not [r for r in caplog.records if r.name == "bot.slack.errors"]  # before: AttributeError, each one
    assert not harness.slack.calls_to("chat.postEphemeral")
    assert len(harness.slack.calls_to("chat.postMessage")) == posted


def test_a_reply_flipped_in_and_out_of_a_note_ends_as_its_last_edit(harness: Harness,
                                                                      world: dict[str, ItemInfo]) -> None:
    item = world["c1"]
    harness.flag(item)
    gap_id = _gap_id(harness)
    _, ts = harness.reply(item, "thanks", user=BEN)
    for i in range(15):
        _edit(harness, item, ts, f"note: version {i}" if i % 2 == 0 else "never mind")
        expected = [(BEN, f"version {i}")] if i % 2 == 0 else []
        wait(lambda: _notes(harness, gap_id) == expected, what=f"edit {i}")  # noqa: B023 - read at once
    assert _settled(harness, gap_id) == [(BEN, "version 14")]


def test_a_note_slack_will_not_react_to_is_still_recorded(harness: Harness, world: dict[str, ItemInfo]) -> None:
    item = world["c1"]
    harness.flag(item)
    gap_id = _gap_id(harness)
    harness.slack.fail_next("reactions.add", error="too_many_reactions")
    _, ts = harness.reply(item, "note: Cards take 5 days.", user=BEN)
    wait(lambda: _notes(harness, gap_id) == [(BEN, "Cards take 5 days.")], what="the note")
    harness.slack.fail_next("reactions.remove", error="not_in_channel")
    _edit(harness, item, ts, "never mind")
    wait(lambda: _notes(harness, gap_id) == [], what="the note dropped")
    harness.slack.fail_next("reactions.add", error="message_not_found")
    _edit(harness, item, ts, "note: Cards take 3 days.")
    assert wait(lambda: _notes(harness, gap_id) == [(BEN, "Cards take 3 days.")], what="the note again")
