"""The loop's state at the end of a past period, replayed from the audit trail and the replay runs: the open
backlog and the regression suite as they stood then (the current period reads the state columns as they are now).
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, ReplayKind, Verdict
from bot.services.conversation_scan import as_utc
from storage.models import AuditEvent, Gap, RegressionCase, ReplayRun


def backlog(session: Session, *, stop: dt.datetime, age_at: dt.datetime, live: bool) -> dict[str, Any]:
    """Gaps active at `stop`. Past periods replay the audit trail: the last transition before `stop`, else
    the state the first later transition left, else (never transitioned) the state column."""
    state: Any = Gap.state
    if not live:
        gap_events = and_(
            AuditEvent.entity == "gap", AuditEvent.entity_id == Gap.id, AuditEvent.to_state.is_not(None)
        )
        before = select(AuditEvent.to_state).where(gap_events, AuditEvent.at < stop)
        after = select(AuditEvent.from_state).where(gap_events, AuditEvent.at >= stop)
        state = func.coalesce(
            before.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1).scalar_subquery(),
            after.order_by(AuditEvent.at, AuditEvent.id).limit(1).scalar_subquery(),
            Gap.state,
        )
    query = select(Gap.flagged_at).where(Gap.flagged_at < stop, state.in_([s.value for s in ACTIVE_GAP_STATES]))
    ages = [(age_at - as_utc(f)).total_seconds() / 86400 for f in session.scalars(query)]
    return {
        "open_backlog": len(ages),
        "backlog_median_age_days": statistics.median(ages) if ages else None,
        "backlog_oldest_days": max(ages) if ages else None,
    }


def regression(session: Session, *, stop: dt.datetime, live: bool) -> dict[str, int]:
    """Active regression cases and how many pass: now for the current period, else as of `stop`, replaying
    what sets `last_verdict`: every regression run of the case, and a passing publish replay of its gap."""
    verdict: Any = RegressionCase.last_verdict
    if not live:
        sets_verdict = or_(
            ReplayRun.regression_case_id == RegressionCase.id,
            and_(
                ReplayRun.gap_id == RegressionCase.gap_id,
                ReplayRun.kind == ReplayKind.PUBLISH.value,
                ReplayRun.verdict == Verdict.PASS.value,
            ),
        )
        verdict = (
            select(ReplayRun.verdict)
            .where(sets_verdict, ReplayRun.created_at < stop)
            .order_by(ReplayRun.created_at.desc(), ReplayRun.id.desc())
            .limit(1)
            .scalar_subquery()
        )
    query = (
        select(func.count(), func.count(case((verdict == Verdict.PASS.value, 1))))
        .select_from(RegressionCase)
        .where(RegressionCase.active.is_(True), RegressionCase.created_at < stop)
    )
    total, passing = session.execute(query).one()
    return {"regression_cases": total, "regression_passing": passing}
