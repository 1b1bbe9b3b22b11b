"""Drafts left untouched get one gentle reminder per quiet period, in the gap's thread, mentioning its owner.

On the known world (threads for every gap): cat drafts r2 on Wednesday 11-25 at noon, bob drafts d1 on Thursday at
noon, dan drafts s2, whose thread is unknown (flagged outside Slack). Reminders are due after 48 quiet hours.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

import bot.jobs as jobs
from bot.blocks.ids import DraftRef, GapRef
from bot.services.authoring import latest_draft, write_draft
from bot.services.gaps import add_note
from bot.services.reminders import due_reminders
from bot.services.threads import ItemInfo
from handlers.ids import ActionId
from storage.models import AuditEvent, Gap
from tests.insights_slack.conftest import ANN, BOB, CAT, DAN
from tests.support.harness import find_element, texts
from tests.support.world import NOW, World, t


@pytest.fixture
def drafts(world: World, threads) -> World:  # type: ignore[no-untyped-def]
    for when, key, user in ((NOW, "r2", CAT), (NOW, "s2", DAN), (t("2026-11-26 12:00"), "d1", BOB)):
        world.at(when)
        write_draft(world.services, gap_id=world.gap[key], user=user)
    with world.services.session() as s:
        s.execute(update(Gap).where(Gap.id == world.gap["s2"]).values(thread_channel=None, thread_ts=None))
    return world


def run(world: World, client, when: str) -> int:  # type: ignore[no-untyped-def]
    world.at(t(when))
    return jobs.reminder_job(world.services, client, now=t(when))


def replies(slack, threads, gap_id: int) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    channel, ts = threads[gap_id]
    return [m for m in slack.thread(channel, ts) if m["ts"] != ts and "quiet for" in m["text"]]


def test_a_quiet_draft_is_reminded_once_per_quiet_period(drafts: World, threads, client, slack) -> None:  # type: ignore[no-untyped-def]
    r2, d1 = drafts.gap["r2"], drafts.gap["d1"]
    assert run(drafts, client, "2026-11-27 11:00") == 0  # r2 quiet for 47 hours: not yet
    assert run(drafts, client, "2026-11-27 13:00") == 1  # 49 hours; d1 (25 hours) is still active
    (reminder,) = replies(slack, threads, r2)
    text = texts(reminder["blocks"])
    assert f"<@{CAT}>, the draft for *gap #{r2}*" in text and "quiet for 2 days" in text
    assert replies(slack, threads, d1) == []
    assert run(drafts, client, "2026-11-27 14:00") == 0  # the same quiet period: no second reminder
    assert run(drafts, client, "2026-11-28 14:00") == 1  # d1 now (50 hours), r2 still not again

    drafts.at(t("2026-11-28 15:00"))  # a reply in r2's thread (a note) ends its quiet period
    add_note(drafts.services, gap_id=r2, author=ANN, text="The finance team confirmed the 2 days.")
    assert run(drafts, client, "2026-11-30 14:00") == 0  # 47 hours after the note
    assert run(drafts, client, "2026-11-30 16:00") == 1  # quiet again: one more reminder
    assert len(replies(slack, threads, r2)) == 2 and len(replies(slack, threads, d1)) == 1
    with drafts.services.session() as s:
        events = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "reminded")
                           .order_by(AuditEvent.id)).all()
    assert events == [r2, d1, r2]


def test_a_draft_without_a_thread_is_due_but_never_posted(drafts: World, threads, client, slack) -> None:  # type: ignore[no-untyped-def]
    s2 = drafts.gap["s2"]
    assert s2 in [r.gap_id for r in due_reminders(drafts.services, now=t("2026-11-27 13:00"))]
    run(drafts, client, "2026-11-27 13:00")
    assert all(str(s2) not in c.params["text"] for c in slack.calls_to("chat.postMessage"))
    with drafts.services.session() as s:  # nothing recorded: it stays due if it ever gets a thread
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "reminded", AuditEvent.entity_id == s2)) == 0


def test_the_reminders_buttons_act_on_the_latest_draft(drafts: World, threads, client, slack, harness) -> None:  # type: ignore[no-untyped-def]
    r2 = drafts.gap["r2"]
    run(drafts, client, "2026-11-27 13:00")
    (reminder,) = replies(slack, threads, r2)
    with drafts.services.session() as s:
        draft_id = latest_draft(s, r2).id
    assert DraftRef.load(find_element(reminder["blocks"], ActionId.PUBLISH)["value"]).draft_id == draft_id
    assert GapRef.load(find_element(reminder["blocks"], ActionId.WRITE_DRAFT)["value"]).gap_id == r2
    channel, parent = threads[r2]
    assert harness.click(channel, reminder["ts"], ActionId.TEST_DRAFT, user=CAT).status == 200
    verdict = harness.thread_with(ItemInfo(None, 0, channel, parent), "shadow test of the draft")
    assert verdict["text"].startswith(f"Gap #{r2}: ") and verdict["ts"] != reminder["ts"]  # in the gap's thread
