"""The weekly report, one function for every place that shows it: `flywheel stats`, `flywheel weekly`,
`/flywheel stats` and the Monday post all read `weekly_report`, so their numbers cannot disagree.

In order, as a manager reads it: the headline (the estimated gap rate against the period before, in words), the
funnel (`bot.services.stats.FUNNEL_TERMS` defines each number once), the top open topics with their gaps' threads,
credit, and what the model calls cost. Plain data and plain sentences; `bot.present` maps it to Slack views.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import Services
from bot.services.credit import Credit
from bot.services.loop_insights import TOPIC_DAYS, weekly_insights
from bot.services.stats import StatsReport, WeekStats, iso_week, month_stats, weekly_stats
from bot.services.topics import Topic
from storage.models import Gap

Period = Literal["week", "month"]
MAX_TOPIC_GAPS = 5  # gap threads linked per topic


@dataclass(frozen=True)
class GapThread:
    gap_id: int
    channel: str | None
    thread_ts: str | None


@dataclass(frozen=True)
class TopicGaps:
    topic: Topic
    gaps: tuple[GapThread, ...]  # its open gaps, each with its thread when it has one


@dataclass(frozen=True)
class WeeklyReport:
    period: Period
    current: WeekStats
    previous: WeekStats | None
    finished: bool  # the period is over (the Monday post), else it is still running (`/flywheel stats`)
    topics: tuple[TopicGaps, ...] = ()
    topic_days: int = TOPIC_DAYS
    credit: Credit | None = None
    judge: str | None = None

    @property
    def label(self) -> str:
        return self.current.label

    @property
    def headline(self) -> str:
        return gap_rate_headline(self.current, self.previous, period=self.period, finished=self.finished)

    def to_text(self) -> str:
        """The report as plain text (`flywheel weekly --preview`, the CLI)."""
        cur = self.current
        lines = [f"Flywheel {'week' if self.period == 'week' else '4 weeks'} {self.label}", self.headline,
                 funnel_line(cur), backlog_line(cur, self.previous)]
        if self.topics:
            lines.append("Where to spend the next 30 minutes:")
            for rank, tg in enumerate(self.topics, 1):
                gaps = ", ".join(f"#{g.gap_id}" for g in tg.gaps) or "none open"
                lines.append(f"  {rank}. {tg.topic.label}: gaps {gaps} · {tg.topic.conversations_touching}"
                             f" conversations in {self.topic_days} days, {tg.topic.went_wrong} went wrong")
        if self.credit is not None:
            team = self.credit.team
            lines.append(f"Thank you: {len(self.credit.people)} people named · team {team.reviewed} reviewed,"
                         f" {team.flagged} flagged, {team.drafted} drafted, {team.fixed} fixed")
        lines.append(cost_line(cur))
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return f"{round(100 * (value or 0.0))}%"


def gap_rate_headline(cur: WeekStats, prev: WeekStats | None, *, period: Period = "week",
                      finished: bool = False) -> str:
    """'The agent fell short in about 12% of conversations this week (8–17%, 40 random reviews), down from 15%
    last week.' The estimate is the random share of the digest: risk picks would inflate it."""
    if period == "week":
        this, before = ("last week", "the week before") if finished else ("this week", "last week")
    else:
        this, before = "these 4 weeks", "the 4 weeks before"
    if cur.gap_rate is None:
        text = (f"No random pick was reviewed {this}, so there is no estimate of the gap rate: review the random "
                "picks of the digest.")
        if prev is not None and prev.gap_rate is not None:
            text += f" {before.capitalize()}: about {_pct(prev.gap_rate)}."
        return text
    reviews = f"{cur.random_reviewed} random review{'s' if cur.random_reviewed != 1 else ''}"
    text = (f"The agent fell short in about {_pct(cur.gap_rate)} of conversations {this} "
            f"({round(100 * (cur.gap_rate_low or 0.0))}–{_pct(cur.gap_rate_high)}, {reviews})")
    if prev is None or prev.gap_rate is None:
        return f"{text}; there is no estimate for {before}."
    now_pct, then_pct = round(100 * cur.gap_rate), round(100 * prev.gap_rate)
    if now_pct == then_pct:
        text += f", the same as {before}"
    else:
        text += f", {'down' if now_pct < then_pct else 'up'} from {then_pct}% {before}"
    overlap = (cur.gap_rate_low or 0.0) <= (prev.gap_rate_high or 0.0) and \
        (prev.gap_rate_low or 0.0) <= (cur.gap_rate_high or 0.0)
    if now_pct != then_pct and overlap:
        text += " (within the margin of error)"
    return text + "."


def funnel_line(week: WeekStats) -> str:
    """Gaps compared with gaps: new → drafted → published → verified."""
    return (f"Gaps: {week.flagged} new → {week.drafted} drafted → {week.published} published → {week.verified}"
            f" verified · {week.failed} failed · {week.dismissed} dismissed · {week.reviewed} conversations reviewed"
            f" ({week.looks_good} looked good)")


def backlog_line(cur: WeekStats, prev: WeekStats | None) -> str:
    change = ""
    if prev is not None:
        delta = cur.open_backlog - prev.open_backlog
        change = " (unchanged)" if delta == 0 else f" ({'+' if delta > 0 else '−'}{abs(delta)})"
    came_back = f" · {cur.recurrences} came back after a fix" if cur.recurrences else ""
    return f"Open backlog: {cur.open_backlog} gaps{change}{came_back}"


def cost_line(week: WeekStats) -> str:
    unpriced = f" (no price for {', '.join(week.unpriced_models)})" if week.unpriced_models else ""
    return (f"Model calls: {week.model_calls} · {week.input_tokens + week.output_tokens:,} tokens"
            f" · estimated ${week.cost_usd:.2f}{unpriced}")


def _report_now(services: Services, now: dt.datetime, period: Period, as_of: dt.datetime) -> StatsReport:
    if period == "week":
        return weekly_stats(services, now=now, weeks=2, as_of=as_of)
    return month_stats(services, now=now, months=2, as_of=as_of)


def weekly_report(services: Services, *, now: dt.datetime, period: Period = "week",
                  week_of: dt.datetime | None = None, insights: bool = True) -> WeeklyReport:
    """The period holding `week_of` (default: `now`, the period still running) and the one before; with
    `insights`, the top open topics and credit as of `now` (credit only for a week)."""
    stats = _report_now(services, week_of or now, period, as_of=now)
    judge = stats.judge.to_text() if stats.judge is not None else None
    finished = week_of is not None
    if not insights:
        return WeeklyReport(period, stats.current, stats.previous, finished, judge=judge)
    found = weekly_insights(services, now=now, week_start=stats.current.week_start)
    credit = found.credit if period == "week" else None  # credit is counted per week
    return WeeklyReport(period, stats.current, stats.previous, finished, topic_gaps(services, found.topics),
                        found.topic_days, credit, judge)


def topic_gaps(services: Services, topics: tuple[Topic, ...] | list[Topic]) -> tuple[TopicGaps, ...]:
    """Each topic's open gaps (the first few), with the Slack thread each was discussed in."""
    ids = [g for t in topics for g in t.open_gap_ids[:MAX_TOPIC_GAPS]]
    threads: dict[int, tuple[str | None, str | None]] = {}
    if ids:
        with services.session() as s:
            rows = s.execute(select(Gap.id, Gap.thread_channel, Gap.thread_ts).where(Gap.id.in_(ids)))
            threads = {gid: (channel, ts) for gid, channel, ts in rows}
    return tuple(TopicGaps(t, tuple(GapThread(g, *threads.get(g, (None, None)))
                                    for g in t.open_gap_ids[:MAX_TOPIC_GAPS])) for t in topics)


def last_week_moment(services: Services, *, now: dt.datetime) -> tuple[dt.datetime, str]:
    """The week the Monday post is about (the ISO week that just ended, in the team's timezone): a moment inside
    it and its key, e.g. "2026-W48"."""
    local = now.astimezone(ZoneInfo(services.settings.timezone))
    ref = local - dt.timedelta(days=local.weekday() + 1)
    return ref, iso_week(ref)
