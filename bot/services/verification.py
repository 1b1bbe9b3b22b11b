"""Verify a published article by replaying its gap's conversation against the live KB, when the agent can
see it: an external KB indexes late, so a FAIL is replayed again after a backoff (`FLYWHEEL_VERIFY_RETRIES`,
`FLYWHEEL_VERIFY_BACKOFF`) before it counts. A verification the agent or the judge could not run leaves the gap
"published, verification pending" with a time to try again (`Gap.verify_after`); an article the external KB
keeps as a draft (Intercom `state=draft`) is never verified. A FAIL verdict then rolls the article back or
keeps it live with a warning (`FLYWHEEL_PUBLISH_ON_FAIL`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import AttemptState, GapState, OnFailedVerdict, ReplayKind, Verdict
from bot.errors import AgentError, FlywheelError, IllegalTransition, LLMError, PublishError
from bot.services import Services
from bot.services.authoring import required_facts
from bot.services.gap_state import audit, get_gap, lock_gap, transition
from bot.services.replay import ReplayOutcome, replay
from bot.services.rollback import rollback_after_fail
from storage.models import Article, Gap, PublishAttempt, RegressionCase

log = logging.getLogger(__name__)

sleep: Callable[[float], None] = time.sleep  # tests replace it (no real waiting)
MAX_PENDING_WAIT = dt.timedelta(hours=1)


@dataclass
class Verification:
    """What verifying a published gap gave: a verdict, or why there is none yet."""

    outcome: ReplayOutcome | None  # None: no verdict (pending, or hidden in the external KB)
    state: str  # the gap's state afterwards
    pending: str | None = None  # why it is "published, verification pending" (user-safe)
    after_fail: str | None = None  # what a FAIL verdict did to the live article (rolled back, or kept)


def latest_attempt(session: Session, gap_id: int) -> PublishAttempt | None:
    return session.scalar(select(PublishAttempt).where(PublishAttempt.gap_id == gap_id)
                          .order_by(PublishAttempt.id.desc()))


def is_hidden(session: Session, gap_id: int) -> bool:
    """Published as a draft the agent cannot see: never 'verified'."""
    attempt = latest_attempt(session, gap_id)
    return attempt is not None and attempt.state == AttemptState.HIDDEN.value


def verify(services: Services, *, gap_id: int, user: str | None) -> Verification:
    """Replay the gap's conversation against the live KB and move it to verified or failed."""
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if gap.state != GapState.PUBLISHED.value:
            raise IllegalTransition(f"Gap #{gap_id} is {gap.state}; only a published gap is verified.")
        if is_hidden(session, gap_id):
            return Verification(None, gap.state, pending=(
                f"The article of gap #{gap_id} is a draft in the team's KB ({services.publisher.name}): the agent "
                "cannot see it, so it is not verified. Publish it there, then `flywheel publish` verifies it."))
        facts = required_facts(session, gap_id)
        article = session.get(Article, gap.article_id) if gap.article_id else None
        conv_id, pos, reference = gap.conversation_id, gap.flagged_position, article.body if article else ""
    tries = 1 + (services.settings.verify_retries if services.publisher.name != "builtin" else 0)
    delay = services.settings.verify_backoff
    outcome: ReplayOutcome | None = None
    for n in range(tries):
        try:
            outcome = replay(services, conversation_id=conv_id, kind=ReplayKind.PUBLISH, flagged_position=pos,
                             required_facts=facts, reference=reference, gap_id=gap_id, actor=user)
        except (AgentError, LLMError) as exc:
            return _pending(services, gap_id, user, exc)
        if outcome.passed or n == tries - 1:
            break
        log.info("verification failed, replaying again after the indexing delay gap_id=%r try=%d", gap_id, n + 1)
        sleep(delay)
        delay *= 2
    assert outcome is not None
    return _record(services, gap_id, outcome, facts, user)


def _pending(services: Services, gap_id: int, user: str | None, exc: FlywheelError) -> Verification:
    now = services.clock()
    with services.session() as session:
        lock_gap(session, gap_id)
        gap = get_gap(session, gap_id)
        gap.verify_attempts += 1
        wait = dt.timedelta(seconds=max(services.settings.verify_backoff, 1.0) * 2 ** gap.verify_attempts)
        gap.verify_after = now + min(wait, MAX_PENDING_WAIT)
        audit(session, gap, "verification-pending", actor=user, now=now, attempts=gap.verify_attempts,
              error=type(exc).__name__)
        attempts, state = gap.verify_attempts, gap.state
    log.warning("verification could not run gap_id=%r attempts=%d error=%s", gap_id, attempts, type(exc).__name__)
    who = "agent" if isinstance(exc, AgentError) else "model (the judge)"
    later = ("it is verified by itself when the bot runs its checks (or run `flywheel publish "
             f"{gap_id}` again)" if attempts < services.settings.verify_pending_limit
             else f"it was tried {attempts} times: run `flywheel publish {gap_id}` when the {who} is back")
    return Verification(None, state, pending=(
        f"Published, verification pending: the {who} failed, so the replay did not run ({exc.message.rstrip('.')})"
        f"; {later}."))


def _record(services: Services, gap_id: int, outcome: ReplayOutcome, facts: Sequence[str],
            user: str | None) -> Verification:
    now = services.clock()
    with services.session() as session:
        lock_gap(session, gap_id)  # a second instance verifying the same gap finds it decided
        gap = get_gap(session, gap_id)
        if gap.state != GapState.PUBLISHED.value:
            return Verification(outcome, gap.state)
        gap.verify_after = None
        if outcome.verdict == Verdict.PASS:
            transition(session, gap, GapState.VERIFIED, actor=user, action="verified", now=now, run_id=outcome.run_id)
            gap.verified_at = now
            _ensure_case(session, gap, outcome, facts)
            return Verification(outcome, gap.state)
        transition(session, gap, GapState.FAILED, actor=user, action="verification-failed", now=now,
                   run_id=outcome.run_id)
        article_id = gap.article_id
    return Verification(outcome, GapState.FAILED.value, after_fail=_after_fail(services, gap_id, article_id, user))


def _after_fail(services: Services, gap_id: int, article_id: int | None, user: str | None) -> str | None:
    if article_id is None:
        return None
    if services.settings.publish_on_fail == OnFailedVerdict.KEEP.value:
        with services.session() as session:
            audit(session, get_gap(session, gap_id), "kept-after-fail", actor=user, now=services.clock(),
                  article_id=article_id)
        return (":warning: The article stays live although the replay failed (FLYWHEEL_PUBLISH_ON_FAIL=keep): "
                "customers see it now. Edit the draft and publish again, or roll it back.")
    try:
        return rollback_after_fail(services, gap_id=gap_id, article_id=article_id, user=user)
    except PublishError as exc:
        log.warning("rollback after a failed verdict failed gap_id=%r article_id=%r", gap_id, article_id)
        return (f":warning: The replay failed and rolling the article back failed too: {exc.message} "
                "The article is still live; roll it back by hand (`flywheel kb rollback`).")


def _ensure_case(session: Session, gap: Gap, outcome: ReplayOutcome, facts: Sequence[str]) -> None:
    case = session.scalar(select(RegressionCase).where(RegressionCase.gap_id == gap.id))
    if case is None:
        case = RegressionCase(gap_id=gap.id, conversation_id=gap.conversation_id,
                              flagged_position=outcome.flagged_position or 0, created_at=gap.verified_at)
        session.add(case)
    case.required_facts, case.article_id, case.active = list(facts), gap.article_id, True
    case.last_verdict, case.last_run_at = Verdict.PASS.value, gap.verified_at
