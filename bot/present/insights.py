"""Topics, credit, recurrences and draft reminders as the builders' view models (pure: no DB, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from bot.blocks.models import (
    CostView,
    CreditView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    ReminderView,
    StatsNumbers,
    StatsView,
    TopicView,
    WeeklyInsightsView,
)
from bot.services.credit import Counts, Credit
from bot.services.loop_insights import RecurrenceNotice
from bot.services.reminders import Reminder
from bot.services.stats import WeekStats
from bot.services.topics import Topic
from bot.services.weekly import WeeklyReport


def topic_view(topic: Topic, permalinks: Mapping[int, str] | None = None) -> TopicView:
    links = permalinks or {}
    return TopicView(
        topic_id=topic.id, label=topic.label, open_gap_ids=tuple(topic.open_gap_ids), gap_count=len(topic.gap_ids),
        conversations=topic.conversations_touching, went_wrong=topic.went_wrong, escalated=topic.escalated,
        impact=topic.impact, gap_links=tuple((g, links[g]) for g in topic.open_gap_ids if g in links),
    )


def topic_views(topics: Iterable[Topic]) -> list[TopicView]:
    return [topic_view(t) for t in topics]


def _person(user: str, counts: Counts) -> PersonCredit:
    return PersonCredit(user, counts.reviewed, counts.flagged, counts.drafted, counts.fixed)


def credit_view(credit: Credit) -> CreditView:
    return CreditView(people=tuple(_person(p.user, p) for p in credit.people), team=_person("team", credit.team),
                      streak_days=credit.streak.days, streak_today_done=credit.streak.today_done)


def recurrence_notice_view(notice: RecurrenceNotice) -> RecurrenceNoticeView:
    items = tuple(RecurrenceItem(line.conversation_ref, line.day.isoformat(), line.reasons) for line in notice.lines)
    return RecurrenceNoticeView(gap_id=notice.gap_id, gap_title=notice.gap_title, items=items,
                                fixed_by=notice.fixed_by)


def reminder_view(reminder: Reminder, *, now: dt.datetime) -> ReminderView:
    return ReminderView(gap_id=reminder.gap_id, title=reminder.title, owner=reminder.owner,
                        quiet_hours=reminder.quiet_hours(now=now), draft_id=reminder.draft_id)


# --- the weekly report -----------------------------------------------------------------------------
def funnel_numbers(week: WeekStats) -> StatsNumbers:
    """One definition set (`bot.services.stats.FUNNEL_TERMS`): "flagged" is new gaps, everywhere."""
    return StatsNumbers(
        reviewed=week.reviewed, flagged=week.flagged, looks_good=week.looks_good, gaps_opened=week.flagged,
        drafts=week.drafted, published=week.published, verified=week.verified, failed=week.failed,
        dismissed=week.dismissed,
        open_backlog=week.open_backlog, recurrences=week.recurrences,
    )


def cost_view(current: WeekStats, previous: WeekStats | None = None) -> CostView:
    return CostView(
        calls=current.model_calls, input_tokens=current.input_tokens, output_tokens=current.output_tokens,
        cost_usd=current.cost_usd, unpriced_models=tuple(current.unpriced_models),
        previous_calls=previous.model_calls if previous is not None else None,
        previous_cost_usd=previous.cost_usd if previous is not None else None,
    )


def report_stats_view(report: WeeklyReport) -> StatsView:
    """The headline, the funnel with the period before for the arrows, the judge and the cost."""
    prev = report.previous
    return StatsView(
        period_label=report.label, current=funnel_numbers(report.current),
        previous=funnel_numbers(prev) if prev is not None else None, period=report.period, judge=report.judge,
        headline=report.headline, cost=cost_view(report.current, prev),
    )


def report_insights_view(report: WeeklyReport, permalinks: Mapping[int, str] | None = None) -> WeeklyInsightsView:
    """The top topics (each gap linked to its thread where `permalinks` knows it) and credit."""
    return WeeklyInsightsView(credit=credit_view(report.credit) if report.credit is not None else None,
                              topics=tuple(topic_view(tg.topic, permalinks) for tg in report.topics),
                              topic_days=report.topic_days)
