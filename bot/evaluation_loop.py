"""The machine time of one loop turn (flag → outline → draft → publish → verdict) through the real services,
against the time spent inside LLM calls. Runs on a small throwaway SQLite KB."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from bot.errors import InvalidInput
from bot.evaluation_data import EvalTask, Passage
from bot.evaluation_setup import TimedLLM, build_kb, eval_services, import_tasks
from bot.services import Services

USER = "eval"


class LoopTiming(BaseModel):
    turns: int
    seconds: float  # mean wall time of one loop turn: flag → outline → draft → publish → verdict
    llm_seconds: float  # mean time inside LLM calls per turn
    machine_seconds: float  # the rest: database, search, services
    llm_calls: float
    verdicts: list[str]
    steps: dict[str, float]  # mean seconds per step


def mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def _turn(svc: Services, llm: TimedLLM, conv_id: int, position: int) -> tuple[dict[str, float], float, int, str]:
    from bot.services.authoring import suggest_outline, write_draft
    from bot.services.gaps import flag
    from bot.services.publishing import publish

    steps: dict[str, float] = {}
    llm_before, calls_before = llm.seconds, llm.calls
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps[name] = now - t
        t = now

    gap_id = flag(svc, conversation_id=conv_id, user=USER, position=position, on_match="new").gap_id
    if gap_id is None:  # cannot happen with on_match="new"; keeps the type checker honest
        raise InvalidInput("The gap could not be opened.")
    lap("flag")
    suggest_outline(svc, gap_id=gap_id, user=USER)
    lap("outline")
    write_draft(svc, gap_id=gap_id, user=USER)
    lap("draft")
    result = publish(svc, gap_id=gap_id, user=USER,  # publish, replay, verdict, affected regressions
                     anyway="loop evaluation: every draft is published and judged")
    lap("publish+verdict")
    verdict = str(result.outcome.verdict if result.outcome else "pending")
    return steps, llm.seconds - llm_before, llm.calls - calls_before, verdict


def time_loop(services_factory: Callable[..., Services], db: Path, tasks: Sequence[EvalTask],
              kb_passages: Sequence[Passage]) -> LoopTiming:
    """`tasks` are answerable: their own gold passages are kept out of the small KB (the gaps)."""
    svc, llm = eval_services(services_factory, db)
    try:
        gap_docs = {p.doc_id for t in tasks for p in t.passages}
        build_kb(svc, [p for p in kb_passages if p.doc_id not in gap_docs])
        conv_ids = import_tasks(svc, tasks)
        totals, llm_s, calls, verdicts, steps = [], [], [], [], []
        for task in tasks:
            position = len(task.turns)  # the agent's "I don't know" before the handover
            step, spent, n, verdict = _turn(svc, llm, conv_ids[task.task_id], position)
            totals.append(sum(step.values()))
            llm_s.append(spent)
            calls.append(n)
            verdicts.append(verdict)
            steps.append(step)
    finally:
        svc.engine.dispose()
    return LoopTiming(
        turns=len(tasks), seconds=mean(totals), llm_seconds=mean(llm_s),
        machine_seconds=mean([a - b for a, b in zip(totals, llm_s, strict=True)]), llm_calls=mean(calls),
        verdicts=verdicts, steps={k: mean([s[k] for s in steps]) for k in steps[0]} if steps else {},
    )
