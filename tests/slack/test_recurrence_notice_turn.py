"""The recurrence notice shows the broken turn like the regression notice: the newest conversation that came back
(the customer's message and the agent's answer in it) beside the agent's answer when the fix was verified, with the
same way out (*Edit and retry* on the gap's draft). Driven by calling the scheduled job on the insights world."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from sqlalchemy import select

import bot.jobs as jobs
from handlers.ids import ActionId, DraftRef
from storage.models import Draft, ReplayRun
from tests.insights_slack.conftest import client, settings, slack, threads, world  # noqa: F401 - the same world
from tests.support.harness import find_element, texts
from tests.support.world import HELPFUL, NOW


def test_the_recurrence_notice_shows_the_turn_and_edit_and_retry(world, threads, client, slack) -> None:  # noqa: F811
    gap_id = world.gap["p1"]
    assert jobs.recurrence_job(world.services, client, now=NOW) == 1
    channel, ts = threads[gap_id]
    (notice,) = [m for m in slack.thread(channel, ts) if m["ts"] != ts]
    body = texts(notice["blocks"])
    with world.services.session() as s:
        passed = s.scalars(select(ReplayRun.after_answer).where(ReplayRun.gap_id == gap_id,
                                                                ReplayRun.verdict == "pass")
                           .order_by(ReplayRun.id.desc())).first()
        draft_id = s.scalars(select(Draft.id).where(Draft.gap_id == gap_id).order_by(Draft.id.desc())).first()
    assert passed and draft_id
    assert "*Customer asked*\n> I still cannot reset my password after using the reset link." in body
    assert "*When the fix was verified*" in body and passed.split()[0] in body  # the fix's passing answer
    assert f"*In pc1*\n> {HELPFUL}" in body  # the agent's answer in the conversation that came back
    assert "This came back: conversation `pc1`" in body  # the list is still there
    retry = find_element(notice["blocks"], ActionId.EDIT_AND_RETRY)
    assert DraftRef.load(retry["value"]) == DraftRef(gap_id=gap_id, draft_id=draft_id)
