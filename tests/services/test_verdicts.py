"""Verdicts you can trust (issue 13, items 8–10): collateral regressions on the whole replay, shadow tests
that never look live, and people overruling the judge (state, audit, agreement, export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain import GapState, Verdict
from bot.errors import InvalidInput, NotFound
from bot.llm.base import AgentReply, Change, Judgement, TurnCompareRequest, TurnComparison
from bot.llm.offline import OfflineLLM
from bot.services import Services
from bot.services.authoring import edit_draft, shadow_test
from bot.services.conversations import resolve
from bot.services.gaps import flag
from bot.services.publishing import publish_or_verify
from bot.services.stats import weekly_stats
from bot.services.verdicts import export_disagreements, judge_agreement, override_verdict
from storage.models import AuditEvent, Gap, RegressionCase, ReplayRun
from tests.support.factories import REFUND_FACT, conversation, load, seed_kb
from tests.support.fake_llm import FakeLLM

USER = "U_ANA"


@pytest.fixture
def gap_id(services: Services, tmp_path: Path) -> int:
    load(services, tmp_path, [conversation("c1", gap=True)])
    seed_kb(services)
    gid = flag(services, conversation_id=resolve(services, "c1"), user=USER).gap_id
    assert gid is not None
    edit_draft(services, gap_id=gid, title="Card refunds", body=REFUND_FACT, user=USER)
    return gid


def _verdict(v: Verdict) -> Judgement:
    return Judgement(verdict=v, reasons=["scripted"], confidence=0.9)


def _state(services: Services, gap_id: int) -> str:
    with services.session() as s:
        return s.get(Gap, gap_id).state  # type: ignore[union-attr]


# --- collateral (item 8) ---------------------------------------------------------------------------
def test_offline_compare_finds_a_dropped_answer_and_ignores_greetings() -> None:
    llm = OfflineLLM()
    hours = "The collection hours are Monday - Friday from 7:00 a.m. to 3:00 p.m."
    other = "Call Republic Services before 12 noon for a return trip if you missed the collection."
    worse = llm.compare(TurnCompareRequest(question="What are the hours of collection?", before_answer=hours,
                                           after_answer=other))
    assert worse.change == Change.WORSE
    same = llm.compare(TurnCompareRequest(question="What are the hours of collection?", before_answer=hours,
                                          after_answer=f"Sure. {hours}"))
    assert same.change == Change.SAME
    greeting = llm.compare(TurnCompareRequest(question="Hi there", before_answer="Hello! How can I help?",
                                              after_answer="I'm sorry, I don't have information about that."))
    assert greeting.change == Change.SAME


def test_a_pass_with_another_turn_worse_is_not_a_clean_pass(services: Services, gap_id: int) -> None:
    llm = services.llm
    assert isinstance(llm, FakeLLM)
    llm.enqueue("judge", _verdict(Verdict.PASS))
    llm.enqueue("compare", TurnComparison(change=Change.WORSE, reason="It now answers a different question."))
    # The draft (shadow id -1) takes over the greeting turn too: that turn was touched by the change.
    llm.enqueue("answer", AgentReply(answer="Refunds to a card take 5 business days.", used_article_ids=[-1],
                                     knows=True))
    out = shadow_test(services, gap_id=gap_id, user=USER)
    assert out.verdict == Verdict.COLLATERAL and not out.passed
    assert [c.position for c in out.collateral] == [1]  # the greeting turn, scripted as worse
    assert any("message 1" in r for r in out.reasons)
    compared = llm.calls_to("compare")
    assert len(compared) == 1 and compared[0].inputs[0].question == "Hi there"  # type: ignore[attr-defined]
    with services.session() as s:
        run = s.get(ReplayRun, out.run_id)
        assert run is not None and run.verdict == "collateral"
        assert run.collateral and run.collateral[0]["position"] == 1 and run.collateral[0]["reason"]


def test_no_collateral_when_other_turns_hold(services: Services, gap_id: int) -> None:
    out = shadow_test(services, gap_id=gap_id, user=USER)  # the offline model: the greeting is not a regression
    assert out.verdict == Verdict.PASS and out.collateral == []


def test_a_turn_the_change_did_not_touch_is_not_its_collateral(services: Services, gap_id: int) -> None:
    assert isinstance(services.llm, FakeLLM)
    services.llm.enqueue("answer", AgentReply(answer="Open Orders in your account.", used_article_ids=[1], knows=True))
    out = shadow_test(services, gap_id=gap_id, user=USER)  # the greeting changed, but not from the draft
    assert out.verdict == Verdict.PASS and services.llm.calls_to("compare") == []


def test_demo_data_missed_collection_article_breaks_the_hours_answer(services: Services) -> None:
    """The case from the issue, on the bundled data: publishing 'missed collection' made 'What are the hours of
    collection?' get the missed-collection text. The shadow test says so, naming the turn."""
    from bot.demo import DATA, TEAMMATE, _pick_gap
    from bot.kb.markdown import import_folder
    from bot.services.authoring import suggest_outline, write_draft
    from bot.services.importer import import_file

    services.llm = OfflineLLM()
    services.agent.llm = services.llm  # type: ignore[attr-defined]
    import_file(services, DATA / "conversations.jsonl", source="demo")
    with services.session() as s:
        import_folder(services.kb, s, DATA / "kb", author="demo")
    featured = _pick_gap(json.loads((DATA / "gaps.json").read_text(encoding="utf-8")))
    gid = flag(services, conversation_id=resolve(services, featured["conversation_id"]), user=TEAMMATE,
               on_match="new").gap_id
    assert gid is not None
    suggest_outline(services, gap_id=gid, user=TEAMMATE)
    write_draft(services, gap_id=gid, user=TEAMMATE)
    out = shadow_test(services, gap_id=gid, user=TEAMMATE)
    assert out.verdict == Verdict.COLLATERAL  # the flagged turn passes, but it is not a clean pass
    # (whole-conversation search, bot/kb/query.py: the turn the new article takes over is the blue cart one)
    cart = next(c for c in out.collateral if c.question == "I also see a Blue Recycling Cart out there.")
    assert "Blue Recycling Cart" in cart.before and "Republic Services" in cart.after


# --- override (item 10) ----------------------------------------------------------------------------
def _published(services: Services, gap_id: int, verdict: Verdict) -> int:
    assert isinstance(services.llm, FakeLLM)
    services.llm.enqueue("judge", _verdict(verdict))
    result = publish_or_verify(services, gap_id=gap_id, user=USER)
    assert result.outcome is not None
    return result.outcome.run_id


def test_overruling_a_pass_fails_the_gap_and_leaves_the_suite(services: Services, gap_id: int) -> None:
    run_id = _published(services, gap_id, Verdict.PASS)
    assert _state(services, gap_id) == GapState.VERIFIED
    done = override_verdict(services, run_id=run_id, verdict="fail", reason="It quotes the wrong policy.", user=USER)
    assert (done.from_state, done.to_state, done.agrees) == ("verified", "failed", False)
    assert _state(services, gap_id) == GapState.FAILED
    with services.session() as s:
        run = s.get(ReplayRun, run_id)
        assert run is not None and (run.verdict, run.human_verdict, run.human_by) == ("pass", "fail", USER)
        assert run.human_reason == "It quotes the wrong policy." and run.human_at is not None
        case = s.scalar(select(RegressionCase).where(RegressionCase.gap_id == gap_id))
        assert case is not None and not case.active
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == gap_id)))
        assert "verdict-overridden" in actions and "verdict-overridden-failed" in actions


def test_overruling_a_fail_verifies_the_gap(services: Services, gap_id: int) -> None:
    run_id = _published(services, gap_id, Verdict.FAIL)
    assert _state(services, gap_id) == GapState.FAILED
    done = override_verdict(services, run_id=run_id, verdict="PASS", reason="Same facts, other words.", user=USER)
    assert done.to_state == "verified" and _state(services, gap_id) == GapState.VERIFIED
    with services.session() as s:
        case = s.scalar(select(RegressionCase).where(RegressionCase.gap_id == gap_id))
        assert case is not None and case.active and case.last_verdict == "pass"


def test_confirming_moves_nothing_and_bad_input_is_refused(services: Services, gap_id: int) -> None:
    run_id = _published(services, gap_id, Verdict.PASS)
    done = override_verdict(services, run_id=run_id, verdict="pass", reason="Checked: right.", user=USER)
    assert done.agrees and done.to_state is None and _state(services, gap_id) == GapState.VERIFIED
    with pytest.raises(InvalidInput, match="reason is required"):
        override_verdict(services, run_id=run_id, verdict="fail", reason="  ", user=USER)
    with pytest.raises(InvalidInput, match="pass or fail"):
        override_verdict(services, run_id=run_id, verdict="maybe", reason="x", user=USER)
    with pytest.raises(NotFound):
        override_verdict(services, run_id=run_id + 99, verdict="fail", reason="x", user=USER)


def test_an_older_verdict_is_recorded_without_moving_the_gap(services: Services, gap_id: int) -> None:
    shadow = shadow_test(services, gap_id=gap_id, user=USER)  # judged, but not the verdict that decides the state
    done = override_verdict(services, run_id=shadow.run_id, verdict="fail", reason="Too vague.", user=USER)
    assert done.to_state is None and _state(services, gap_id) == GapState.DRAFTING
    assert "recorded" in done.note


def test_agreement_counts_overrides_and_confirmations_in_stats_and_export(
    services: Services, gap_id: int, tmp_path: Path,
) -> None:
    assert judge_agreement(services).reviewed == 0
    run_id = _published(services, gap_id, Verdict.PASS)
    override_verdict(services, run_id=run_id, verdict="fail", reason="Wrong policy.", user=USER)
    shadow = shadow_test(services, gap_id=gap_id, user=USER)
    override_verdict(services, run_id=shadow.run_id, verdict="pass", reason="Fine.", user=USER)
    agreement = judge_agreement(services)
    assert (agreement.reviewed, agreement.agreed) == (2, 1) and agreement.with_people == 0.5
    text = weekly_stats(services, now=services.clock(), weeks=1).to_text()
    assert "Judge agrees with people on 1/2 reviewed verdicts (50%)" in text
    path = tmp_path / "disagreements.jsonl"
    assert export_disagreements(services, path) == 1
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["run_id"], r["judge_verdict"], r["human_verdict"], r["human_reason"]) for r in rows] == [
        (run_id, "pass", "fail", "Wrong policy.")]


def test_self_agreement_when_the_judge_runs_several_times(services: Services, gap_id: int) -> None:
    services.settings.judge_runs = 3
    assert isinstance(services.llm, FakeLLM)
    services.llm.enqueue("judge", _verdict(Verdict.PASS), _verdict(Verdict.PASS), _verdict(Verdict.FAIL))
    shadow_test(services, gap_id=gap_id, user=USER)
    agreement = judge_agreement(services)
    assert agreement.self_runs == 1 and agreement.self_agreement == pytest.approx(0.667, abs=0.001)
    assert "self-agreement 67%" in agreement.to_text()
