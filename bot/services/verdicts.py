"""People overrule the judge: a human verdict beside the judge's, the gap moved to match, and the judge's
agreement with people (and with itself, when it runs several times) for the stats and for calibration.

`override_verdict` is the one rule for "Verdict is wrong" (Slack modal) and `flywheel verdict override` (CLI).
A human verdict equal to the judge's is a confirmation: recorded, nothing moves, and it counts toward the
agreement as much as a disagreement does."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import GapState, ReplayKind, Verdict
from bot.errors import InvalidInput, NotFound
from bot.llm.redaction import scrubber_for
from bot.services import Services
from bot.services.gap_state import audit, get_gap, lock_gap, transition
from bot.services.permissions import Action, require
from storage.models import RegressionCase, ReplayRun

log = logging.getLogger(__name__)

HUMAN_VERDICTS = (Verdict.PASS, Verdict.FAIL)
MAX_REASON = 2000


@dataclass(frozen=True)
class OverrideOutcome:
    run_id: int
    gap_id: int | None
    judge_verdict: str
    human_verdict: str
    agrees: bool  # the person confirmed the judge
    from_state: str | None  # the gap's state before, when it moved
    to_state: str | None  # and after; None when the gap did not move
    note: str  # one sentence for the edges: what happened to the gap


def _judge_passed(verdict: str | None) -> bool:
    return verdict == Verdict.PASS.value


def _latest_verdict_run(session: Session, gap_id: int) -> int | None:
    """The run that decided the gap's state: its latest judged run after publishing (or a regression check)."""
    return session.scalar(
        select(ReplayRun.id)
        .where(ReplayRun.gap_id == gap_id, ReplayRun.verdict.is_not(None),
               ReplayRun.kind.in_([ReplayKind.PUBLISH.value, ReplayKind.REGRESSION.value]))
        .order_by(ReplayRun.created_at.desc(), ReplayRun.id.desc())
        .limit(1)
    )


def judge_verdict(services: Services, run_id: int) -> str:
    """The judge's verdict on a run (what the override modal shows); NotFound / InvalidInput otherwise."""
    with services.session() as session:
        return _judged_run(session, run_id)[1]


def _judged_run(session: Session, run_id: int) -> tuple[ReplayRun, str]:
    """The run and the judge's verdict on it; a missing or unjudged run is refused with a user-safe message."""
    run = session.get(ReplayRun, run_id)
    if run is None:
        raise NotFound(f"No replay run {run_id}. `flywheel gaps show GAP` lists a gap's runs.")
    if run.verdict is None:
        raise InvalidInput(f"Replay run {run_id} was not judged, so there is no verdict to overrule.")
    return run, run.verdict


def override_verdict(services: Services, *, run_id: int, verdict: str, reason: str, user: str) -> OverrideOutcome:
    """Record a person's verdict on a judged run and move its gap to match (PASS → FAIL: verified → failed;
    FAIL/UNCLEAR/COLLATERAL → PASS: failed → verified, with its regression case). Audited."""
    try:
        human = Verdict(verdict.strip().lower())
    except ValueError:
        human = None
    if human not in HUMAN_VERDICTS:
        raise InvalidInput(f"A human verdict is pass or fail, not {verdict[:20]!r}.")
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("Say why the verdict is wrong (a reason is required): it is kept for calibrating the judge.")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"The reason is {len(text):,} characters; keep it under {MAX_REASON:,}.")
    require(services, user, Action.PUBLISH)  # it can verify a gap, as publishing does
    now = services.clock()
    with services.session() as session:
        run, judged = _judged_run(session, run_id)
        if run.gap_id is not None:
            lock_gap(session, run.gap_id)
        run.human_verdict, run.human_reason = human.value, scrubber_for(services.settings)(text)
        run.human_by, run.human_at = user, now
        agrees = _judge_passed(judged) == (human == Verdict.PASS)
        from_state = to_state = None
        note = "No gap changed state."
        if run.gap_id is not None:
            gap = get_gap(session, run.gap_id)
            audit(session, gap, "verdict-confirmed" if agrees else "verdict-overridden", actor=user, now=now,
                  run_id=run.id, judge=judged, human=human.value)
            decides = run.id == _latest_verdict_run(session, gap.id)
            target = GapState.VERIFIED if human == Verdict.PASS else GapState.FAILED
            if agrees or gap.state == target.value:
                note = f"Gap #{gap.id} stays {gap.state}."
            elif not decides or gap.state not in (GapState.VERIFIED.value, GapState.FAILED.value):
                note = (f"Gap #{gap.id} is {gap.state} and this is not the verdict that decided it, so it stays "
                        f"{gap.state}; your verdict is recorded.")
            else:
                from_state = gap.state
                transition(session, gap, target, actor=user, action="verdict-overridden-" + target.value, now=now,
                           run_id=run.id)
                _sync_case(session, gap.id, run, passed=target == GapState.VERIFIED, now=now)
                if target == GapState.VERIFIED:
                    gap.verified_at = now
                to_state = target.value
                note = f"Gap #{gap.id} moved {from_state} → {to_state}."
        outcome = OverrideOutcome(run.id, run.gap_id, judged, human.value, agrees, from_state, to_state, note)
    log.info("verdict overridden run_id=%r gap_id=%r judge=%r human=%r moved=%r", run_id, outcome.gap_id,
             outcome.judge_verdict, outcome.human_verdict, to_state)
    return outcome


def _sync_case(session: Session, gap_id: int, run: ReplayRun, *, passed: bool, now: dt.datetime) -> None:
    """A gap a person verified joins the regression suite; one they failed leaves it until verified again."""
    case = session.scalar(select(RegressionCase).where(RegressionCase.gap_id == gap_id))
    if case is None and passed:
        gap = get_gap(session, gap_id)
        case = RegressionCase(gap_id=gap_id, conversation_id=gap.conversation_id,
                              flagged_position=run.flagged_position or 0, required_facts=[], created_at=now)
        session.add(case)
        case.article_id = gap.article_id
    if case is not None:
        case.active = passed
        case.last_verdict, case.last_run_at = (Verdict.PASS.value if passed else Verdict.FAIL.value), now


# --- agreement -------------------------------------------------------------------------------------------
class JudgeAgreement(BaseModel):
    reviewed: int = 0  # judged runs a person overrode or confirmed
    agreed: int = 0
    self_runs: int = 0  # judged runs where the judge ran more than once
    self_agreement: float | None = None  # mean share of the judge's runs that agreed with its majority

    @property
    def with_people(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None

    def to_text(self) -> str:
        people = (f" agrees with people on {self.agreed}/{self.reviewed} reviewed verdicts "
                  f"({self.agreed / self.reviewed:.0%})" if self.reviewed else ": no verdict reviewed by a person yet")
        own = (f"; self-agreement {self.self_agreement:.0%} over {self.self_runs} verdicts judged several times"
               if self.self_agreement is not None else "")
        return f"Judge{people}{own}"


def judge_agreement(services: Services, *, since: dt.datetime | None = None) -> JudgeAgreement:
    """The judge against people (overridden + confirmed runs) and against itself (several runs of a verdict)."""
    reviewed = agreed = self_runs = 0
    total = 0.0
    with services.session() as session:
        query = select(ReplayRun.verdict, ReplayRun.human_verdict, ReplayRun.agreement, ReplayRun.judge_runs).where(
            ReplayRun.verdict.is_not(None))
        if since is not None:
            query = query.where(ReplayRun.created_at >= since)
        for judge, human, agreement, runs in session.execute(query):
            if human is not None:
                reviewed += 1
                agreed += _judge_passed(judge) == (human == Verdict.PASS.value)
            if runs and runs > 1 and agreement is not None:
                self_runs += 1
                total += agreement
    return JudgeAgreement(reviewed=reviewed, agreed=agreed, self_runs=self_runs,
                          self_agreement=round(total / self_runs, 3) if self_runs else None)


def disagreements(services: Services) -> Iterator[dict[str, Any]]:
    """Runs where a person overruled the judge, oldest first, as JSON-ready rows (stored text: redacted)."""
    with services.session() as session:
        runs = session.scalars(select(ReplayRun).where(ReplayRun.human_verdict.is_not(None))
                               .order_by(ReplayRun.human_at, ReplayRun.id)).all()
        rows: list[dict[str, Any]] = [
            {"run_id": r.id, "gap_id": r.gap_id, "kind": r.kind, "judge_verdict": r.verdict,
             "human_verdict": r.human_verdict, "human_reason": r.human_reason, "human_by": r.human_by,
             "human_at": r.human_at.isoformat() if r.human_at else None, "before_answer": r.before_answer,
             "after_answer": r.after_answer, "judge_reasons": list(r.reasons or []),
             "collateral": list(r.collateral or []), "provider": r.provider, "kb_revision": r.kb_revision}
            for r in runs if _judge_passed(r.verdict) != (r.human_verdict == Verdict.PASS.value)
        ]
    yield from rows


def export_disagreements(services: Services, path: Path) -> int:
    """Write the disagreements as JSONL (one run a line) for calibrating the judge's prompt; returns the count."""
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in disagreements(services):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
