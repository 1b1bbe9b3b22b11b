"""People overrule the judge through the real app: 'Verdict is wrong' on the verdict message → modal with a
reason → the gap moves, the thread says so, and /flywheel stats counts it. Also: a shadow test never
headlines like a live verdict."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.domain import GapState, Verdict
from bot.llm.base import Judgement
from handlers.ids import ActionId, InputId, ViewId
from storage.models import Gap, ReplayRun
from tests.support.fake_llm import FakeLLM
from tests.support.harness import ANA, REVIEW, Harness, find_element, texts


def _stored_view(harness: Harness, count: int = 1) -> dict[str, Any]:
    return harness.slack.wait_for("views.open", count)[-1].response["view"]


def test_verdict_is_wrong_overrules_the_judge(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))

    # The shadow test is labelled as one: nothing was published.
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    shadow = harness.thread_with(item, "shadow test of the draft")
    assert "Shadow test (nothing published)" in texts(shadow) and "the agent now answers this" not in texts(shadow)

    # Publish with a judge that (wrongly) says FAIL: the gap fails.
    assert isinstance(harness.services.llm, FakeLLM)
    harness.services.llm.enqueue("judge", Judgement(verdict=Verdict.FAIL, reasons=["scripted"], confidence=0.6))
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    assert "Fail" in texts(verdict) and "Shadow test" not in texts(verdict)
    with harness.services.session() as s:
        gap = s.scalars(select(Gap)).one()
        assert gap.state == GapState.FAILED
    wrong = find_element(verdict["blocks"], ActionId.VERDICT_WRONG)
    assert wrong["text"]["text"].endswith("Verdict is wrong")

    # "Verdict is wrong" → the modal, the opposite verdict preselected.
    harness.click(REVIEW, verdict["ts"], ActionId.VERDICT_WRONG)
    view = _stored_view(harness)
    assert view["callback_id"] == ViewId.VERDICT_OVERRIDE
    radio = next(b for b in view["blocks"] if b.get("block_id") == InputId.OVERRIDE_VERDICT)["element"]
    assert radio["initial_option"]["value"] == "pass"

    # No reason: refused inside the modal, nothing recorded.
    empty = harness.submit(view, {InputId.OVERRIDE_REASON: "   "})
    assert empty.status == 200 and "reason is required" in empty.body
    with harness.services.session() as s:
        assert s.scalar(select(ReplayRun.human_verdict).where(ReplayRun.kind == "publish")) is None

    ok = harness.submit(view, {InputId.OVERRIDE_VERDICT: "pass",
                               InputId.OVERRIDE_REASON: "It states the 5 business days, in other words."})
    assert ok.status == 200 and not ok.body
    notice = harness.thread_with(item, "overruled the judge")
    assert f"<@{ANA}>" in texts(notice) and "fail → *pass*" in texts(notice) and "failed → verified" in texts(notice)
    with harness.services.session() as s:
        assert s.get(Gap, gap.id).state == GapState.VERIFIED  # type: ignore[union-attr]
        run = s.scalar(select(ReplayRun).where(ReplayRun.kind == "publish"))
        assert run is not None and (run.verdict, run.human_verdict, run.human_by) == ("fail", "pass", ANA)

    # /flywheel stats counts the disagreement.
    before = len(harness.slack.calls_to("webhook"))
    assert harness.command("stats").status == 200
    stats = harness.slack.wait_for("webhook", before + 1, timeout=15)[-1].params
    assert "Judge agrees with people on 0/1 reviewed verdicts (0%)" in texts(stats)
    assert not harness.slack.rejections
