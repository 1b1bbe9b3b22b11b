"""`flywheel eval`: does the loop really find and fix knowledge gaps? Measured on MTRAG-format tasks.

Everything runs in a throwaway SQLite database with the configured provider (offline without a key).
The KB holds the gold passages of every selected task. For each ANSWERABLE task with gold passages:
1. the gap: the task's gold passages are taken out of the search index (restored afterwards);
2. outline: the reference answer is the teammate's handover answer; its required facts are the checklist;
3. before: replay the conversation with the built-in agent and judge it: a FAIL is a detected gap;
4. fix: publish an article written from the gold passages (the teammate's article), replay, judge:
   a PASS is a fixed gap; the reference answer itself is judged too (agreement with the references).
UNANSWERABLE tasks are replayed against the whole KB and judged against facts from their reference answer:
a PASS on an answer that is not "I don't know" is a false pass; so is a PASS on a made-up answer (the
top KB passage for the question, presented as the answer). PARTIAL and UNDERSPECIFIED tasks are counted only.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, computed_field

from bot.domain import ReplayKind, Verdict
from bot.errors import FlywheelError
from bot.evaluation_data import (
    ANSWERABLE,
    DONT_KNOW,
    UNANSWERABLE,
    EvalTask,
    article_from,
    load_tasks,
    passage_title,
    select_tasks,
)
from bot.evaluation_loop import LoopTiming, time_loop
from bot.evaluation_setup import build_kb, eval_services, import_tasks
from bot.llm.base import ArticleSnippet, GapContext, JudgeRequest, Turn
from bot.redact import redact
from bot.services import Services
from bot.text import says_dont_know, shorten, slugify

if TYPE_CHECKING:
    from bot.services.replay import TurnResult

LOOP_TURNS = 3  # loop turns timed through the real services
LOOP_KB_TASKS = 30  # tasks whose passages make the small KB of the timed loop


class TaskResult(BaseModel):
    task_id: str
    answerability: str
    facts: int  # required facts in the outline
    before: str | None = None  # verdict of the replay without the gold passages (answerable)
    after: str | None = None  # verdict after publishing the article (answerable), or of the replay (unanswerable)
    reference: str | None = None  # verdict on the reference answer (answerable) or on a made-up one
    declined: bool = False  # the agent's last answer (after publishing, if answerable) says it does not know
    other_turns_changed: int = 0  # other agent turns whose answer publishing changed (answerable)
    collateral: int = 0  # of those, turns the judge found worse than the original answer
    error: str | None = None  # the model failed on this task (LLMError…): it counts in no figure


class EvalReport(BaseModel):
    data: str
    provider: str
    tasks_in_file: int
    tasks_selected: int
    kb_articles: int
    answerable_evaluated: int = 0
    no_required_facts: int = 0  # the outline found no fact in the reference answer
    gaps_detected: int = 0  # before: FAIL
    before: dict[str, int] = {}
    gaps_fixed: int = 0  # detected, and PASS after publishing
    still_declined_after: int = 0  # after publishing, the agent still said it does not know
    after: dict[str, int] = {}
    publishes_changed_other_turns: int = 0  # publishes that changed the answer of another turn
    publishes_with_collateral: int = 0  # publishes that made another turn worse (verdict: collateral)
    reference_passed: int = 0  # the reference answer judged as the "after" answer: PASS
    judge_agreement: float | None = None  # reference_passed / answerable_evaluated
    unanswerable_evaluated: int = 0
    declined: int = 0
    false_pass: int = 0
    false_pass_rate: float | None = None
    made_up_false_pass: int = 0
    made_up_false_pass_rate: float | None = None
    skipped: dict[str, int] = {}
    errors: int = 0  # tasks where the model failed
    loop: LoopTiming | None = None
    seconds: float = 0.0
    results: list[TaskResult] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detection_rate(self) -> float | None:
        return _ratio(self.gaps_detected, self.answerable_evaluated)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fix_rate(self) -> float | None:
        return _ratio(self.gaps_fixed, self.gaps_detected)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def _set_indexed(svc: Services, articles: dict[int, tuple[str, str]], indexed: bool) -> None:
    with svc.engine.begin() as conn:
        for aid, (title, body) in articles.items():
            if indexed:
                svc.kb.backend.index(conn, aid, title, body, [])
            else:
                svc.kb.backend.unindex(conn, aid)


def required_facts(svc: Services, task: EvalTask) -> list[str]:
    """The outline of the gap, with the reference answer as the teammate's handover answer."""
    scrub = (lambda t: t) if svc.llm.offline else redact
    hits = svc.kb.search(task.question, 3)
    ctx = GapContext(
        gap_id=0, conversation_ref=task.task_id,
        transcript=[Turn(role=s, text=scrub(t)) for s, t in task.turns], question=scrub(task.question),
        agent_answer=DONT_KNOW, human_answer=scrub(task.reference),
        related_articles=[ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits],
    )
    return list(svc.llm.outline(ctx).required_facts)


def _judge(svc: Services, task: EvalTask, answer: str, facts: list[str], reference: str) -> Verdict:
    from bot.services.replay import judge

    excerpts = [ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in svc.kb.search(task.question, 3)]
    judgement, _ = judge(svc, JudgeRequest(question=task.question, before_answer=None, after_answer=answer,
                                           required_facts=facts, reference=reference, kb_excerpts=excerpts))
    return judgement.verdict


def eval_answerable(svc: Services, task: EvalTask, conv_id: int, gold: dict[int, tuple[str, str]]) -> TaskResult:
    from bot.services.replay import replay

    _set_indexed(svc, gold, False)  # the gap
    try:
        facts = required_facts(svc, task)
        before = replay(svc, conversation_id=conv_id, kind=ReplayKind.MANUAL, required_facts=facts, actor="eval")
        title, body = article_from(task.passages)
        with svc.session() as s:
            article, _ = svc.kb.save(s, title=title, body=body, author="eval", slug=slugify(f"fix {task.task_id}"))
            published = {article.id: (title, body)}
        try:
            after = replay(svc, conversation_id=conv_id, kind=ReplayKind.PUBLISH, required_facts=facts,
                           reference=body, actor="eval", article_id=next(iter(published)),
                           baseline={t.position: t.new_answer for t in before.turns})
            ref = _judge(svc, task, task.reference, facts, body)
        finally:
            _set_indexed(svc, published, False)
    finally:
        _set_indexed(svc, gold, True)
    return TaskResult(task_id=task.task_id, answerability=task.answerability, facts=len(facts),
                      before=str(before.verdict), after=str(after.verdict), reference=str(ref),
                      declined=says_dont_know(after.after or ""),
                      other_turns_changed=_changed_other_turns(before.turns, after.turns, after.flagged_position),
                      collateral=len(after.collateral))


def _changed_other_turns(before: Sequence[TurnResult], after: Sequence[TurnResult], flagged: int | None) -> int:
    """Other turns whose new answer after publishing differs from the one just before it."""
    was = {t.position: " ".join(t.new_answer.split()) for t in before}
    return sum(t.position != flagged and was.get(t.position) != " ".join(t.new_answer.split()) for t in after)


def eval_unanswerable(svc: Services, task: EvalTask, conv_id: int) -> TaskResult:
    from bot.services.replay import replay

    facts = required_facts(svc, task)
    out = replay(svc, conversation_id=conv_id, kind=ReplayKind.MANUAL, required_facts=facts, actor="eval")
    hits = svc.kb.search(task.question, 1)
    made_up = shorten(hits[0].body, 600) if hits else "You can do that online in your account settings."
    return TaskResult(task_id=task.task_id, answerability=task.answerability, facts=len(facts),
                      after=str(out.verdict), declined=says_dont_know(out.after or ""),
                      reference=str(_judge(svc, task, made_up, facts, "")))


def run_eval(services_factory: Callable[..., Services], data: Path, *, task_ids: Sequence[str] | None = None,
             limit: int | None = None, on_task: Callable[[str], None] | None = None,
             loop_turns: int = LOOP_TURNS) -> EvalReport:
    started = time.perf_counter()
    every = load_tasks(data)
    tasks = select_tasks(every, task_ids, limit)
    passages = [p for t in tasks for p in t.passages]
    with tempfile.TemporaryDirectory(prefix="flywheel-eval-") as tmp:
        svc, _ = eval_services(services_factory, Path(tmp) / "eval.db")
        try:
            doc_ids = build_kb(svc, passages)
            conv_ids = import_tasks(svc, tasks)
            report = EvalReport(data=str(data), provider=svc.llm.name, tasks_in_file=len(every),
                                tasks_selected=len(tasks), kb_articles=len(doc_ids))
            skipped: Counter[str] = Counter()
            for task in tasks:
                try:
                    if task.answerability == ANSWERABLE and task.passages:
                        gold = {doc_ids[p.doc_id]: (passage_title(p), p.text) for p in task.passages}
                        report.results.append(eval_answerable(svc, task, conv_ids[task.task_id], gold))
                    elif task.answerability == UNANSWERABLE:
                        report.results.append(eval_unanswerable(svc, task, conv_ids[task.task_id]))
                    else:
                        skipped[task.answerability if task.passages else f"{task.answerability} without passages"] += 1
                except FlywheelError as exc:  # one failed model call must not lose the other tasks' figures
                    report.results.append(TaskResult(task_id=task.task_id, answerability=task.answerability, facts=0,
                                                     error=exc.message))
                if on_task:
                    on_task(task.task_id)
        finally:
            svc.engine.dispose()
        report.skipped = dict(skipped)
        _summarise(report)
        fixable = [t for t in tasks if t.answerability == ANSWERABLE and t.passages]
        if loop_turns and fixable:
            report.loop = time_loop(services_factory, Path(tmp) / "loop.db", fixable[:loop_turns],
                                    [p for t in tasks[:LOOP_KB_TASKS] for p in t.passages])
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _summarise(report: EvalReport) -> None:
    ok = [r for r in report.results if r.error is None]
    report.errors = len(report.results) - len(ok)
    ans = [r for r in ok if r.answerability == ANSWERABLE]
    una = [r for r in ok if r.answerability == UNANSWERABLE]
    p, f = str(Verdict.PASS), str(Verdict.FAIL)
    report.answerable_evaluated = len(ans)
    report.no_required_facts = sum(r.facts == 0 for r in ans)
    report.before = dict(Counter(r.before for r in ans if r.before))
    report.after = dict(Counter(r.after for r in ans if r.after))
    report.gaps_detected = sum(r.before == f for r in ans)
    report.gaps_fixed = sum(r.before == f and r.after == p for r in ans)
    report.still_declined_after = sum(r.declined for r in ans)
    report.publishes_changed_other_turns = sum(r.other_turns_changed > 0 for r in ans)
    report.publishes_with_collateral = sum(r.collateral > 0 for r in ans)
    report.reference_passed = sum(r.reference == p for r in ans)
    report.judge_agreement = _ratio(report.reference_passed, len(ans))
    report.unanswerable_evaluated = len(una)
    report.declined = sum(r.declined for r in una)
    report.false_pass = sum(r.after == p and not r.declined for r in una)
    report.false_pass_rate = _ratio(report.false_pass, len(una))
    report.made_up_false_pass = sum(r.reference == p for r in una)
    report.made_up_false_pass_rate = _ratio(report.made_up_false_pass, len(una))
