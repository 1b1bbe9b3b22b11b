"""The scripted model keeps its promises: queued answers in order per task, exceptions raised, every call
recorded with its inputs, the offline provider (or a failure) when nothing is queued."""

from __future__ import annotations

import threading

import pytest

from bot.domain import Verdict
from bot.errors import LLMError
from bot.llm.base import LLM, DraftArticle, GapContext, Judgement, JudgeRequest, Outline, Turn
from bot.llm.offline import OfflineLLM
from tests.support.fake_llm import FakeLLM


def gap() -> GapContext:
    return GapContext(gap_id=1, conversation_ref="c1", transcript=[Turn(role="user", text="Refund time?")],
                      question="How long does a refund take?", agent_answer="I don't know.",
                      human_answer="Refunds to a credit card are issued within 5 business days of the return.")


def judgement(verdict: Verdict) -> Judgement:
    return Judgement(verdict=verdict, reasons=["scripted"], confidence=0.9)


def test_it_is_an_llm_labelled_like_its_fallback() -> None:
    llm = FakeLLM()
    assert isinstance(llm, LLM)
    assert (llm.name, llm.offline) == ("offline", True)
    assert (FakeLLM(fallback=None).name, FakeLLM(offline=False).offline) == ("fake", False)


def test_answers_come_in_order_per_task_then_the_fallback_answers() -> None:
    llm = FakeLLM()
    first, second = Outline(title="A", summary="s", kind="missing", sections=[], required_facts=[]), \
        Outline(title="B", summary="s", kind="missing", sections=[], required_facts=[])
    llm.enqueue("outline", first, second).enqueue("judge", judgement(Verdict.FAIL))
    assert llm.outline(gap()) is first and llm.outline(gap()) is second
    assert llm.outline(gap()) == OfflineLLM().outline(gap())  # the queue is empty: the offline provider
    assert llm.judge(JudgeRequest(question="q", before_answer=None, after_answer="a",
                                  required_facts=[])).verdict == Verdict.FAIL
    assert [c.scripted for c in llm.calls] == [True, True, False, True] and llm.pending() == 0


def test_an_exception_is_raised_and_recorded_and_the_next_call_works() -> None:
    llm = FakeLLM()
    outline = llm.outline(gap())
    llm.enqueue("draft", LLMError("The model timed out; nothing was changed."))
    with pytest.raises(LLMError, match="timed out"):
        llm.draft(gap(), outline)
    assert isinstance(llm.draft(gap(), outline), DraftArticle)
    failed, ok = llm.calls_to("draft")
    assert isinstance(failed.error, LLMError) and failed.answer is None and ok.error is None
    assert failed.inputs == (gap(), outline)  # the inputs, as sent


def test_a_callable_answer_sees_the_inputs() -> None:
    llm = FakeLLM(fallback=None)
    llm.enqueue("judge", lambda req: judgement(Verdict.PASS if "5 business days" in req.after_answer else Verdict.FAIL))
    req = JudgeRequest(question="q", before_answer=None, after_answer="within 5 business days", required_facts=[])
    assert llm.judge(req).verdict == Verdict.PASS


def test_strict_mode_fails_an_unscripted_call_and_bad_scripts_are_refused() -> None:
    llm = FakeLLM(fallback=None)
    with pytest.raises(AssertionError, match="no outline answer queued"):
        llm.outline(gap())
    with pytest.raises(TypeError, match="Outline"):
        llm.enqueue("outline", judgement(Verdict.PASS))
    with pytest.raises(ValueError, match="unknown task"):
        llm.enqueue("summarise", judgement(Verdict.PASS))  # type: ignore[arg-type]
    llm.enqueue("judge", lambda req: "PASS")
    with pytest.raises(TypeError, match="returned str"):
        llm.judge(JudgeRequest(question="q", before_answer=None, after_answer="a", required_facts=[]))


def test_concurrent_calls_each_take_one_answer() -> None:
    llm = FakeLLM(fallback=None)
    llm.enqueue("judge", *[judgement(Verdict.PASS) for _ in range(40)])
    req = JudgeRequest(question="q", before_answer=None, after_answer="a", required_facts=[])
    threads = [threading.Thread(target=llm.judge, args=(req,)) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(llm.calls) == 40 and llm.pending() == 0
