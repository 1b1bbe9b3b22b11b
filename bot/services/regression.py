"""Regression suite: every verified gap's conversation, replayed against the current KB."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select

from bot.domain import GapState, ReplayKind, Verdict
from bot.errors import FlywheelError
from bot.services import Services
from bot.services.gaps import audit, question_for, transition
from bot.services.permissions import Action, require, spend
from bot.services.replay import replay
from storage.models import Article, Gap, RegressionCase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegressionResult:
    case_id: int
    gap_id: int
    conversation_id: int
    verdict: str | None
    broke: bool  # passed before, not now
    run_id: int | None
    error: str | None = None
    fixed_by: str | None = None  # who published the fix (to mention when it breaks)
    thread_channel: str | None = None
    thread_ts: str | None = None


def _case_ids(services: Services, case_ids: Sequence[int] | None) -> list[int]:
    with services.session() as session:
        stmt = select(RegressionCase.id).where(RegressionCase.active.is_(True)).order_by(RegressionCase.id)
        if case_ids is not None:
            stmt = stmt.where(RegressionCase.id.in_(list(case_ids)))
        return list(session.scalars(stmt))


def run_case(services: Services, case_id: int, *, actor: str | None = None) -> RegressionResult:
    with services.session() as session:
        case = session.get(RegressionCase, case_id)
        article = session.get(Article, case.article_id) if case.article_id else None
        args = dict(conversation_id=case.conversation_id, flagged_position=case.flagged_position,
                    required_facts=list(case.required_facts), reference=article.body if article else "")
        gap_id, was = case.gap_id, case.last_verdict
    try:
        outcome = replay(services, kind=ReplayKind.REGRESSION, gap_id=gap_id, case_id=case_id, actor=actor, **args)
    except FlywheelError as exc:
        log.warning("regression case_id=%r failed to run: %s", case_id, type(exc).__name__)
        return RegressionResult(case_id, gap_id, args["conversation_id"], None, False, None, error=exc.message)
    now = services.clock()
    verdict = outcome.verdict.value if outcome.verdict else None
    broke = was == Verdict.PASS.value and verdict != Verdict.PASS.value
    with services.session() as session:
        case = session.get(RegressionCase, case_id)
        case.last_verdict, case.last_run_at = verdict, now
        gap = session.get(Gap, gap_id)
        if broke and gap.state == GapState.VERIFIED.value:
            transition(session, gap, GapState.FAILED, actor=actor, action="regression-broke", now=now,
                       run_id=outcome.run_id)
        elif verdict == Verdict.PASS.value:
            audit(session, gap, "regression-passed", actor=actor, now=now, run_id=outcome.run_id)
        return RegressionResult(case_id, gap_id, case.conversation_id, verdict, broke, outcome.run_id,
                                fixed_by=gap.owner, thread_channel=gap.thread_channel, thread_ts=gap.thread_ts)


def run_regressions(
    services: Services,
    *,
    case_ids: Sequence[int] | None = None,
    actor: str | None = None,
    on_result: Callable[[RegressionResult], None] | None = None,
) -> list[RegressionResult]:
    """Replay cases with bounded concurrency; one failing case never aborts the run. A person (`actor`) needs
    the regress role and spends one model call of their budget; `actor=None` is an internal run (after a
    publish the person was allowed to make)."""
    if actor is not None:
        require(services, actor, Action.REGRESS)
        spend(services, actor, "run the regression suite")
    ids = _case_ids(services, case_ids)
    results: list[RegressionResult] = []
    with ThreadPoolExecutor(max_workers=services.settings.replay_concurrency) as pool:
        for result in pool.map(lambda cid: run_case(services, cid, actor=actor), ids):
            results.append(result)
            if on_result:
                on_result(result)
    return results


def run_affected(services: Services, *, article_id: int, exclude_gap: int | None = None) -> list[RegressionResult]:
    """The cases a change to this article could affect: those fixed by it, or whose question finds it."""
    with services.session() as session:
        cases = session.scalars(select(RegressionCase).where(RegressionCase.active.is_(True))).all()
        affected = []
        for case in cases:
            if case.gap_id == exclude_gap:
                continue
            if case.article_id == article_id:
                affected.append(case.id)
                continue
            gap = session.get(Gap, case.gap_id)
            question = question_for(gap.conversation.messages, case.flagged_position)
            if any(h.article_id == article_id for h in services.kb.search(question, 3)):
                affected.append(case.id)
    return run_regressions(services, case_ids=affected) if affected else []
