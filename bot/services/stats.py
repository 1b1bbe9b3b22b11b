"""Loop stats per ISO week (or per four weeks): what was reviewed, flagged, fixed and verified, how fast, and what
the model calls cost. `FUNNEL_TERMS` defines each number once: `flywheel stats`, `/flywheel stats`, App Home and the
weekly post all show these fields, so a "flagged" number means the same everywhere.

Counting is done in SQL, one grouped query per table over the whole window; only the medians load values.
Periods are half-open [start, end) and start on a Monday, in UTC. SQLite hands timestamps back naive: they are
UTC by convention, and `as_utc` makes them aware before any arithmetic.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, distinct, func, select
from sqlalchemy.orm import Session

from bot.domain import GapState, ReviewStatus
from bot.services import Services
from bot.services.conversation_scan import as_utc
from bot.services.costs import cost_report
from bot.services.recurrence import recurrence_counts
from bot.services.stats_history import backlog, regression
from bot.services.stats_math import wilson_interval
from bot.services.verdicts import JudgeAgreement, judge_agreement
from storage.models import AuditEvent, DigestItem, Draft, Gap

Period = Literal["week", "month"]
Bounds = Sequence[tuple[dt.datetime, dt.datetime]]

WEEKS_PER_MONTH = 4
RANDOM_PICK = "random"
COUNTED_TRANSITIONS = (GapState.PUBLISHED, GapState.VERIFIED, GapState.FAILED, GapState.DISMISSED)

# The one definition of each number (docs/SLACK_MESSAGES.md and the README quote it; a test keeps them in sync).
FUNNEL_TERMS: dict[str, str] = {
    "reviewed": "sampled conversations reviewed in the period (flagged or marked as looking good)",
    "looks_good": "reviewed conversations marked as looking good",
    "flagged": "new gaps: gaps opened in the period; a co-flag, or a conversation joining an older gap, is not one",
    "drafted": "gaps whose first draft was written in the period",
    "published": "gaps published in the period (a gap published twice counts once)",
    "verified": "gaps whose replay passed in the period",
    "failed": "gaps whose replay failed in the period",
    "dismissed": "gaps dismissed in the period",
    "open_backlog": "gaps open, drafting or failed at the end of the period",
    "recurrences": "conversations that went wrong again on a fixed gap's topic, found in the period",
    "gap_rate": "random picks flagged / random picks reviewed: the share of all conversations where the agent "
    "fell short, with its Wilson 95% interval",
    "model_calls": "remote model calls (outline, draft, judge, agent, embeddings) and their tokens; the cost is "
    "estimated with FLYWHEEL_MODEL_PRICES",
}


class WeekStats(BaseModel):
    """One period [week_start, week_end): a week, or four weeks in a month report."""

    week_start: dt.date
    week_end: dt.date
    reviewed: int = 0
    looks_good: int = 0
    flagged: int = 0
    drafted: int = 0
    published: int = 0
    verified: int = 0
    failed: int = 0
    dismissed: int = 0
    median_hours_flag_to_publish: float | None = None
    median_hours_flag_to_verified: float | None = None
    open_backlog: int = 0
    backlog_median_age_days: float | None = None
    backlog_oldest_days: float | None = None
    regression_cases: int = 0
    regression_passing: int = 0
    regression_pass_rate: float | None = None
    random_reviewed: int = 0
    random_flagged: int = 0
    gap_rate: float | None = None
    gap_rate_low: float | None = None
    gap_rate_high: float | None = None
    recurrences: int = 0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # the priced models only
    unpriced_models: list[str] = []

    @property
    def label(self) -> str:
        """`2024-W24 (10 Jun – 16 Jun 2024)`, or the first and last ISO weeks of a longer period."""
        last = self.week_end - dt.timedelta(days=1)
        days = f"{self.week_start:%d %b} – {last:%d %b %Y}"
        if (self.week_end - self.week_start).days <= 7:
            return f"{iso_week(self.week_start)} ({days})"
        return f"{iso_week(self.week_start)} – {iso_week(last)} ({days})"


class StatsReport(BaseModel):
    generated_at: dt.datetime
    period: Period = "week"
    weeks: list[WeekStats] = Field(min_length=1)  # oldest first; the last one holds `now`
    judge: JudgeAgreement | None = None  # the judge against people's verdicts and against itself (all time)

    @property
    def current(self) -> WeekStats:
        return self.weeks[-1]

    @property
    def previous(self) -> WeekStats | None:
        return self.weeks[-2] if len(self.weeks) > 1 else None

    def to_text(self) -> str:
        """A compact summary of the current period, each figure with its change since the previous one."""
        cur, prev = self.current, self.previous

        def num(field: str, fmt: str = "{}", unit: str = "", scale: float = 1.0) -> str:
            value = getattr(cur, field)
            if value is None:
                return "n/a"
            text = fmt.format(value * scale if scale != 1 else value) + unit
            before = getattr(prev, field) if prev is not None else None
            if before is None:
                return text
            delta = round((value - before) * scale, 1)
            if delta == 0:
                return f"{text} (=)"
            return f"{text} ({'↑' if delta > 0 else '↓'}{abs(delta):.10g})"

        what = "week" if self.period == "week" else f"{WEEKS_PER_MONTH} weeks"
        head = f"Flywheel loop, {what} {cur.label}"
        if prev is not None:
            head += f", change vs the previous {what}"
        lines = [
            head,
            f"Reviewed {num('reviewed')} (looked good {num('looks_good')}) · new gaps (flagged) {num('flagged')}"
            f" · drafted {num('drafted')}",
            f"Published {num('published')} · verified {num('verified')} · failed {num('failed')}"
            f" · dismissed {num('dismissed')}",
            f"Median time to fix: flag→publish {num('median_hours_flag_to_publish', '{:.1f}', ' h')}"
            f" · flag→verified {num('median_hours_flag_to_verified', '{:.1f}', ' h')}",
            f"Open backlog {num('open_backlog')} · median age {num('backlog_median_age_days', '{:.1f}', ' d')}"
            f" · oldest {num('backlog_oldest_days', '{:.1f}', ' d')}",
            f"Regression suite {cur.regression_passing}/{cur.regression_cases} passing,"
            f" {num('regression_pass_rate', '{:.0f}', '%', 100)} · came back after a fix {num('recurrences')}",
            f"Model calls {num('model_calls')} · tokens {cur.input_tokens:,} in + {cur.output_tokens:,} out"
            f" · estimated cost ${cur.cost_usd:.2f}"
            + (f" (no price for {', '.join(cur.unpriced_models)})" if cur.unpriced_models else ""),
        ]
        if cur.gap_rate is None:
            lines.append("Gap rate n/a: no random pick was reviewed")
        else:
            lines.append(
                f"Gap rate {num('gap_rate', '{:.1f}', '%', 100)} of {cur.random_reviewed} random reviews"
                f" (95% CI {(cur.gap_rate_low or 0.0) * 100:.1f}–{(cur.gap_rate_high or 0.0) * 100:.1f}%)"
            )
        if self.judge is not None:
            lines.append(self.judge.to_text())
        return "\n".join(lines)


def weekly_stats(services: Services, *, now: dt.datetime, weeks: int = 6,
                 as_of: dt.datetime | None = None) -> StatsReport:
    """The last `weeks` ISO weeks, the one holding `now` last. `as_of` (default `now`) is when the report is made:
    a period already over then (last week, in the Monday post) is replayed as it stood at its end."""
    return _report(services, now=now, count=weeks, span_weeks=1, period="week", as_of=as_of)


def month_stats(services: Services, *, now: dt.datetime, months: int = 3,
                as_of: dt.datetime | None = None) -> StatsReport:
    """The last `months` periods of four ISO weeks each, the one ending with the week of `now` last."""
    return _report(services, now=now, count=months, span_weeks=WEEKS_PER_MONTH, period="month", as_of=as_of)


def _report(services: Services, *, now: dt.datetime, count: int, span_weeks: int, period: Period,
            as_of: dt.datetime | None = None) -> StatsReport:
    if count < 1:
        raise ValueError("need at least one period")
    now = as_utc(now)
    today = now.date()
    end = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=1)
    span = dt.timedelta(weeks=span_weeks)
    days = [(end - (count - i) * span, end - (count - i - 1) * span) for i in range(count)]
    bounds = [(_midnight(a), _midnight(b)) for a, b in days]
    rows: list[dict[str, Any]] = [{"week_start": a, "week_end": b} for a, b in days]

    with services.session() as session:
        _count_reviews(session, bounds, rows)
        _count_flagged_and_drafted(session, bounds, rows)
        _count_transitions(session, bounds, rows)
        for field, column in (
            ("median_hours_flag_to_publish", Gap.published_at),
            ("median_hours_flag_to_verified", Gap.verified_at),
        ):
            for row, value in zip(rows, _median_hours(session, column, bounds), strict=True):
                row[field] = value
        for i, (row, (_, stop)) in enumerate(zip(rows, bounds, strict=True)):
            # the period still running reads the state columns as they are now; one over by `as_of`, its end
            live = i == count - 1 and (as_of is None or as_utc(as_of) < stop)
            row.update(backlog(session, stop=stop, age_at=now if live else stop, live=live))
            row.update(regression(session, stop=stop, live=live))

    for row, (start, stop) in zip(rows, bounds, strict=True):
        row["recurrences"] = recurrence_counts(services, start=start, end=stop)
        costs = cost_report(services, start=start, end=stop)
        row.update(model_calls=costs.calls, input_tokens=costs.input_tokens, output_tokens=costs.output_tokens,
                   cost_usd=round(costs.cost_usd, 6), unpriced_models=costs.unpriced_models)
        interval = wilson_interval(row.get("random_flagged", 0), row.get("random_reviewed", 0))
        if interval is not None:
            row["gap_rate"] = row["random_flagged"] / row["random_reviewed"]
            row["gap_rate_low"], row["gap_rate_high"] = interval
        if row["regression_cases"]:
            row["regression_pass_rate"] = row["regression_passing"] / row["regression_cases"]
    return StatsReport(generated_at=now, period=period, weeks=[WeekStats(**row) for row in rows],
                       judge=judge_agreement(services))


def _count_reviews(session: Session, bounds: Bounds, rows: list[dict[str, Any]]) -> None:
    item = DigestItem
    sub = (
        select(_bucket(item.reviewed_at, bounds).label("wk"), item.pick, item.review_status)
        .where(item.review_status != ReviewStatus.PENDING.value, _within(item.reviewed_at, bounds))
        .subquery()
    )
    random = sub.c.pick == RANDOM_PICK
    flagged = and_(random, sub.c.review_status == ReviewStatus.FLAGGED.value)
    good = sub.c.review_status == ReviewStatus.LOOKS_GOOD.value
    query = select(sub.c.wk, func.count(), func.count(case((random, 1))), func.count(case((flagged, 1))),
                   func.count(case((good, 1))))
    for wk, reviewed, random_reviewed, random_flagged, looks_good in session.execute(query.group_by(sub.c.wk)):
        rows[wk].update(reviewed=reviewed, random_reviewed=random_reviewed, random_flagged=random_flagged,
                        looks_good=looks_good)


def _count_flagged_and_drafted(session: Session, bounds: Bounds, rows: list[dict[str, Any]]) -> None:
    flagged = select(_bucket(Gap.flagged_at, bounds).label("wk")).where(_within(Gap.flagged_at, bounds))
    first = select(Draft.gap_id, func.min(Draft.created_at).label("at")).group_by(Draft.gap_id).subquery()
    drafted = select(_bucket(first.c.at, bounds).label("wk")).where(_within(first.c.at, bounds))
    for field, inner in (("flagged", flagged), ("drafted", drafted)):
        sub = inner.subquery()
        for wk, n in session.execute(select(sub.c.wk, func.count()).group_by(sub.c.wk)):
            rows[wk][field] = n


def _count_transitions(session: Session, bounds: Bounds, rows: list[dict[str, Any]]) -> None:
    """Gaps moved into published/verified/failed/dismissed: a gap published twice in a period counts once."""
    sub = (
        select(_bucket(AuditEvent.at, bounds).label("wk"), AuditEvent.to_state, AuditEvent.entity_id)
        .where(
            AuditEvent.entity == "gap",
            AuditEvent.to_state.in_([s.value for s in COUNTED_TRANSITIONS]),
            _within(AuditEvent.at, bounds),
        )
        .subquery()
    )
    query = select(sub.c.wk, sub.c.to_state, func.count(distinct(sub.c.entity_id))).group_by(sub.c.wk, sub.c.to_state)
    for wk, state, n in session.execute(query):
        rows[wk][state] = n


def _median_hours(session: Session, column: Any, bounds: Bounds) -> list[float | None]:
    """Median hours from flagged_at to `column`, over the gaps whose `column` falls in each period."""
    query = select(_bucket(column, bounds), Gap.flagged_at, column).where(_within(column, bounds))
    hours: list[list[float]] = [[] for _ in bounds]
    for wk, start, stop in session.execute(query):
        hours[wk].append((as_utc(stop) - as_utc(start)).total_seconds() / 3600)
    return [statistics.median(h) if h else None for h in hours]


def _bucket(column: Any, bounds: Bounds) -> ColumnElement[int]:
    """The index of the period holding `column` (rows are already restricted to the window)."""
    return case(*[(column < stop, i) for i, (_, stop) in enumerate(bounds)])


def _within(column: Any, bounds: Bounds) -> ColumnElement[bool]:
    return and_(column >= bounds[0][0], column < bounds[-1][1])


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def iso_week(day: dt.date) -> str:
    """The ISO week holding `day`, e.g. "2026-W48": the key of a week everywhere (labels, claims, charts)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
