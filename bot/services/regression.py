"""Regression suite: every verified gap's conversation, replayed against the current KB."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.domain import GapState, ReplayKind, Verdict
from bot.errors import FlywheelError
from bot.services import Services
from bot.services.gaps import audit, question_for, transition
from bot.services.permissions import Action, require, spend
from bot.services.replay import replay
from storage.models import Article, ArticleVersion, Gap, QueuedResult, RegressionCase, ReplayRun

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
    seconds: float = 0.0
    agent: str | None = None  # who answered: "name version"
    model: str | None = None
    kb_revision: int | None = None
    changes: tuple[str, ...] = ()  # for a case that is not passing: what changed since it last passed

    @property
    def could_not_run(self) -> bool:
        return self.error is not None

    @property
    def failing(self) -> bool:
        """It ran and did not pass (newly broken, or still broken from an earlier run)."""
        return self.error is None and self.verdict != Verdict.PASS.value


def who(run: ReplayRun) -> str | None:
    if run.agent_name is None:
        return None
    return f"{run.agent_name} {run.agent_version or 'unknown'}"


def _kb_changes(session: Session, old: int, new: int, since: str = "last pass") -> str:
    ids = sorted(set(session.scalars(select(ArticleVersion.article_id).where(
        ArticleVersion.id > min(old, new), ArticleVersion.id <= max(old, new)))))
    shown = ", ".join(f"#{i}" for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"KB changed since {since} (rev {old} -> {new}" + (f": articles {shown})" if ids else ")")


def changes_since_pass(session: Session, run: ReplayRun) -> tuple[str, ...]:
    """Compare a run with the gap's last passing run (its verification or a regression run): the KB, the
    agent and its version, the model. Values not recorded at the time are not compared."""
    last = session.scalar(select(ReplayRun).where(
        ReplayRun.gap_id == run.gap_id, ReplayRun.id < run.id, ReplayRun.verdict == Verdict.PASS.value,
        ReplayRun.kind.in_([ReplayKind.PUBLISH.value, ReplayKind.REGRESSION.value])).order_by(ReplayRun.id.desc()))
    if last is None:
        return ("no earlier passing run to compare with",)
    found = []
    if last.kb_revision != run.kb_revision:
        found.append(_kb_changes(session, last.kb_revision, run.kb_revision))
    if who(last) is not None and who(last) != who(run):
        found.append(f"agent changed ({who(last)} -> {who(run)})")
    if last.model is not None and last.model != run.model:
        found.append(f"model changed ({last.model} -> {run.model})")
    return tuple(found) or (f"no KB, agent or model change since the last pass (run #{last.id})",)


def _case_ids(services: Services, case_ids: Sequence[int] | None) -> list[int]:
    with services.session() as session:
        stmt = select(RegressionCase.id).where(RegressionCase.active.is_(True)).order_by(RegressionCase.id)
        if case_ids is not None:
            stmt = stmt.where(RegressionCase.id.in_(list(case_ids)))
        return list(session.scalars(stmt))


def run_case(services: Services, case_id: int, *, actor: str | None = None) -> RegressionResult:
    with services.session() as session:
        case = session.get_one(RegressionCase, case_id)
        article = session.get(Article, case.article_id) if case.article_id else None
        conversation_id, flagged, facts = case.conversation_id, case.flagged_position, list(case.required_facts)
        reference = article.body if article else ""
        gap_id, was = case.gap_id, case.last_verdict
    started = time.monotonic()
    try:
        outcome = replay(services, kind=ReplayKind.REGRESSION, gap_id=gap_id, case_id=case_id, actor=actor,
                         conversation_id=conversation_id, flagged_position=flagged, required_facts=facts,
                         reference=reference)
    except FlywheelError as exc:
        log.warning("regression case_id=%r failed to run: %s", case_id, type(exc).__name__)
        return RegressionResult(case_id, gap_id, conversation_id, None, False, None, error=exc.message,
                                seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    now = services.clock()
    verdict = outcome.verdict.value if outcome.verdict else None
    broke = was == Verdict.PASS.value and verdict != Verdict.PASS.value
    with services.session() as session:
        case = session.get_one(RegressionCase, case_id)
        case.last_verdict, case.last_run_at = verdict, now
        gap = session.get_one(Gap, gap_id)
        if broke and gap.state == GapState.VERIFIED.value:
            transition(session, gap, GapState.FAILED, actor=actor, action="regression-broke", now=now,
                       run_id=outcome.run_id)
        elif verdict == Verdict.PASS.value:
            audit(session, gap, "regression-passed", actor=actor, now=now, run_id=outcome.run_id)
        run = session.get_one(ReplayRun, outcome.run_id)
        changes = changes_since_pass(session, run) if verdict != Verdict.PASS.value else ()
        return RegressionResult(case_id, gap_id, case.conversation_id, verdict, broke, outcome.run_id,
                                fixed_by=gap.owner, thread_channel=gap.thread_channel, thread_ts=gap.thread_ts,
                                seconds=seconds, agent=who(run), model=run.model, kb_revision=run.kb_revision,
                                changes=changes)


def check_regress(services: Services, actor: str) -> None:
    """A person's run of the suite: the regress role, and one model call of their budget."""
    require(services, actor, Action.REGRESS)
    spend(services, actor, "run the regression suite")


def run_regressions(
    services: Services,
    *,
    case_ids: Sequence[int] | None = None,
    actor: str | None = None,
    on_result: Callable[[RegressionResult], None] | None = None,
    checked: bool = False,
) -> list[RegressionResult]:
    """Replay cases with bounded concurrency; one failing case never aborts the run. A person (`actor`) needs
    the regress role and spends one model call of their budget (`check_regress`; `checked`: already done, as
    by the listener that queued this run); `actor=None` is an internal run (after a publish the person was
    allowed to make)."""
    if actor is not None and not checked:
        check_regress(services, actor)
    ids = _case_ids(services, case_ids)
    if services.queue is not None and services.queue.distributed and ids:
        return fan_out(services, ids, actor=actor, on_result=on_result)
    results: list[RegressionResult] = []
    with ThreadPoolExecutor(max_workers=services.settings.replay_concurrency) as pool:
        for result in pool.map(lambda cid: run_case(services, cid, actor=actor), ids):
            results.append(result)
            if on_result:
                on_result(result)
    return results


# --- fanned out over `flywheel worker` processes (PostgreSQL) ---------------------------------------------
GATHER_POLL = 0.05  # seconds before the second look at the results
GATHER_POLL_MAX = 1.0  # the looks slow down (GATHER_BACKOFF) to one a second while nothing arrives
GATHER_ACTIVE = 0.25  # while results arrive, at most this long between looks (the end is seen soon)
GATHER_BACKOFF = 1.5
GATHER_IDLE = 3  # looks with no job of the batch left unfinished before its missing cases count as not run


def record_result(services: Services, *, batch: str, result: RegressionResult) -> None:
    """A queued case's result, once per (batch, case): a rerun after a crash keeps the first."""
    with services.session() as session:
        exists = session.scalar(select(QueuedResult.id).where(QueuedResult.batch == batch,
                                                              QueuedResult.item == result.case_id))
        if exists is None:
            session.add(QueuedResult(batch=batch, item=result.case_id, result=dataclasses.asdict(result),
                                     created_at=services.clock()))


def _gathered(services: Services, batch: str, got: dict[int, RegressionResult]) -> list[Any]:
    """One look at a batch's results not read yet: one short transaction on a pooled connection."""
    with services.session() as session:
        return list(session.execute(select(QueuedResult.item, QueuedResult.result).where(
            QueuedResult.batch == batch, QueuedResult.item.not_in(list(got) or [-1]))).all())


def fan_out(services: Services, ids: Sequence[int], *, actor: str | None,
            on_result: Callable[[RegressionResult], None] | None = None) -> list[RegressionResult]:
    """One queued job per case, so every worker shares the suite; the results are gathered as they arrive.
    A case whose job was given up (no result once nothing is left to run), or that has no result by
    FLYWHEEL_REGRESSION_DEADLINE (no worker running, workers too busy), is reported as not run: an error."""
    assert services.queue is not None
    batch = uuid.uuid4().hex
    deadline = time.monotonic() + float(services.settings.regression_deadline)
    for cid in ids:
        services.queue.enqueue("regression-case", {"batch": batch, "case_id": cid, "actor": actor})
    got: dict[int, RegressionResult] = {}
    idle, pause = 0, GATHER_POLL
    while True:
        new = _gathered(services, batch, got)
        for item, data in new:
            got[item] = RegressionResult(**{**data, "changes": tuple(data.get("changes") or ())})
            if on_result:
                on_result(got[item])
        if len(got) == len(ids):
            break
        # the queue is asked only when no result came: do this batch's jobs still run, or were the missing ones
        # given up? (other runs' jobs, such as those left queued by a run cut at its deadline, are not this one's)
        idle = 0 if new else idle + 1 if services.queue.unfinished("regression-case", batch=batch) == 0 else 0
        left = deadline - time.monotonic()
        if idle >= GATHER_IDLE or left <= 0:
            break
        time.sleep(min(pause, left))  # one more look at the deadline itself
        pause = min(pause * GATHER_BACKOFF, GATHER_ACTIVE if new else GATHER_POLL_MAX)
    with services.session() as session:
        session.execute(delete(QueuedResult).where(QueuedResult.batch == batch))
    why = ("its job was given up after every retry" if idle >= GATHER_IDLE else
           f"no result within {services.settings.regression_deadline:g} s (is a `flywheel worker` running?)")
    if len(got) < len(ids):
        log.warning("regression run incomplete batch=%s cases=%d missing=%d", batch, len(ids), len(ids) - len(got))
    missing = [RegressionResult(cid, 0, 0, None, False, None, error=why) for cid in ids if cid not in got]
    return [got[cid] for cid in ids if cid in got] + missing


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
            gap = session.get_one(Gap, case.gap_id)
            question = question_for(gap.conversation.messages, case.flagged_position)
            if any(h.article_id == article_id for h in services.kb.search(question, 3)):
                affected.append(case.id)
    return run_regressions(services, case_ids=affected) if affected else []


@dataclass(frozen=True)
class SuiteIdentity:
    """What a regression run ran against, and what changed since the previous run of the suite."""

    agent: str | None
    model: str | None
    kb_revision: int | None
    changed: tuple[str, ...] = ()
    previous_run_id: int | None = None


def suite_identity(services: Services, results: Sequence[RegressionResult]) -> SuiteIdentity:
    ran = [r for r in results if r.run_id is not None]
    if not ran:
        return SuiteIdentity(None, None, None)
    latest = max(ran, key=lambda r: r.run_id or 0)
    first = min(r.run_id or 0 for r in ran)
    with services.session() as session:
        prev = session.scalar(select(ReplayRun).where(
            ReplayRun.kind == ReplayKind.REGRESSION.value, ReplayRun.id < first).order_by(ReplayRun.id.desc()))
        if prev is None:
            return SuiteIdentity(latest.agent, latest.model, latest.kb_revision)
        changed = []
        if latest.kb_revision is not None and prev.kb_revision != latest.kb_revision:
            changed.append(_kb_changes(session, prev.kb_revision, latest.kb_revision, "the previous run"))
        if who(prev) is not None and who(prev) != latest.agent:
            changed.append(f"agent changed ({who(prev)} -> {latest.agent})")
        if prev.model is not None and prev.model != latest.model:
            changed.append(f"model changed ({prev.model} -> {latest.model})")
        return SuiteIdentity(latest.agent, latest.model, latest.kb_revision, tuple(changed), prev.id)
