"""Ownership and kind in a gap's thread, through signed Slack requests: "I'll write this" (or *I'll take it*) makes
a teammate the gap's owner, shown on the gap message and in the services' gap rows (App Home), and the draft
reminder mentions them; the kind select stores the corrected kind and the message shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

import bot.jobs as jobs
from bot.services.authoring import latest_outline
from bot.services.threads import gap_rows
from handlers.ids import ActionId
from storage.models import AuditEvent, Gap
from tests.support.harness import ANA, BEN, REVIEW, Harness, find_element, texts, wait
from tests.support.mock_slack import BOT_USER_ID


def _gap(harness: Harness) -> Gap:
    with harness.services.session() as s:
        return wait(lambda: s.scalar(select(Gap)), what="a gap")


def _owner(harness: Harness, gap_id: int) -> str | None:
    with harness.services.session() as s:
        return s.get_one(Gap, gap_id).owner


def test_ill_write_this_makes_the_owner_and_the_reminder_mentions_them(
    harness: Harness, world: dict[str, Any]
) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item, user=ANA)
    gap = _gap(harness)
    assert f":writing_hand: Owner: <@{ANA}>" in texts(gap_msg)  # the flagger, until someone takes it

    _, ts = harness.reply(item, "I'll write this", user=BEN)
    wait(lambda: _owner(harness, gap.id) == BEN, what="Ben owns the gap")
    wait(lambda: f"Owner: <@{BEN}>" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the owner shown")
    wait(lambda: f"owner <@{BEN}>" in texts(harness.message(REVIEW, item.ts)), what="the owner on the digest item")
    wait(lambda: any(r["name"] == "raising_hand" and BOT_USER_ID in r["users"]
                     for r in harness.message(REVIEW, ts).get("reactions", [])), what="the :raising_hand:")
    rows, _ = gap_rows(harness.services, user=BEN)  # App Home's "your gaps" (Ben never flagged it)
    assert [(r.gap_id, r.owner) for r in rows] == [(gap.id, BEN)]
    assert gap.id not in [r.gap_id for r in gap_rows(harness.services, user="UCAROL003")[0]]
    with harness.services.session() as s:
        change = s.scalar(select(AuditEvent).where(AuditEvent.action == "owner-changed"))
        assert change is not None and change.detail == {"old": ANA, "new": BEN}  # audited

    draft = harness.write_draft(item, gap_msg)  # Ana writes the draft; Ben still owns the gap
    assert "Draft for gap #" in texts(draft)
    later = harness.services.clock() + dt.timedelta(hours=harness.services.settings.draft_reminder_hours + 2)
    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    assert jobs.reminder_job(harness.services, client, now=later) == 1
    reminder = harness.thread_with(item, "quiet for")
    assert f"<@{BEN}>" in texts(reminder) and f"<@{ANA}>" not in texts(reminder)


def test_the_take_it_button_and_the_kind_select(harness: Harness, world: dict[str, Any]) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item, user=ANA)
    gap = _gap(harness)

    harness.click(REVIEW, gap_msg["ts"], ActionId.TAKE_GAP, user=BEN)
    wait(lambda: f"Owner: <@{BEN}>" in texts(harness.message(REVIEW, gap_msg["ts"])), what="Ben owns it")
    assert _owner(harness, gap.id) == BEN

    select_el = find_element(harness.message(REVIEW, gap_msg["ts"])["blocks"], ActionId.PICK_KIND)
    labels = [o["text"]["text"] for o in select_el["options"]]
    assert [label.split(":")[0] for label in labels] == ["Missing", "Unclear", "Contradictory", "Stale"]
    assert select_el["initial_option"]["text"]["text"].startswith("Missing")
    harness.click(REVIEW, gap_msg["ts"], ActionId.PICK_KIND, user=BEN, option=3)
    wait(lambda: "*Gap kind:* Stale" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the kind shown")
    with harness.services.session() as s:
        assert s.get_one(Gap, gap.id).kind == "stale"
        outline = latest_outline(s, gap.id)
        assert outline is not None and outline.content["kind"] == "stale"  # an outline edit keeps it
    after = find_element(harness.message(REVIEW, gap_msg["ts"])["blocks"], ActionId.PICK_KIND)
    assert after["initial_option"]["text"]["text"].startswith("Stale")
    assert not harness.slack.rejections
